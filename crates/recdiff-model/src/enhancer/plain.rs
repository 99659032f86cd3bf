//! No enhancer: the base alone, `L = BCE(f(h(x)), y)`, serving `f(h(x))`.

use super::{Enhance, NoisePlan};
use crate::base::Base;
use crate::ctr::{Losses, TrainInputs};
use crate::losses::bce_with_logits;
use burn::module::Module;
use burn::tensor::Tensor;

/// The plain base (no parameters of its own).
#[derive(Module, Debug, Default)]
pub struct Plain {
    #[module(skip)]
    _none: (),
}

impl Enhance for Plain {
    fn noise_plan(&self) -> NoisePlan {
        NoisePlan::None
    }

    fn losses(&self, base: &Base, z: &[Tensor<2>], inp: &TrainInputs<'_>) -> Losses {
        let main = bce_with_logits(base.f(z[0].clone()), inp.y.clone());
        Losses { total: main.clone(), main, extra: vec![] }
    }

    fn serve(&self, z: Tensor<2>, _s: Tensor<2>) -> Tensor<2> {
        z
    }
}
