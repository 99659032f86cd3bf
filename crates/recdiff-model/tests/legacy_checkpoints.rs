//! CTR checkpoints written while the base, DCN-V2's cross layers and the enhancer were structs of
//! `Option`s (tensors named `base.dcn.cross.0.full.weight`, `enhancer.asym.…`) load through
//! `legacy::reader` to the same model as a current checkpoint: same logits, for every base and
//! enhancer with parameters.

use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::{Device, Tensor, TensorData};
use recdiff_model::base::BaseConfig;
use recdiff_model::base::dcn::{CrossKind, DcnV2Config};
use recdiff_model::base::deepfm::DeepFmConfig;
use recdiff_model::base::mlp::MlpConfig;
use recdiff_model::enhancer::asymdiffrec::AsymDiffRecConfig;
use recdiff_model::enhancer::cdae::CdaeConfig;
use recdiff_model::enhancer::diffrec::DiffRecConfig;
use recdiff_model::enhancer::multivae::MultiVaeConfig;
use recdiff_model::enhancer::ssl::SslConfig;
use recdiff_model::{CtrModel, CtrModelConfig, EnhancerConfig};
use safetensors::SafeTensors;

const F: usize = 3;
const DIM: usize = 2;

/// The names the struct-of-`Option`s models gave their tensors.
fn old_name(name: &str) -> String {
    name.replace("base.DcnV2.", "base.dcn.")
        .replace("base.DeepFm.", "base.deepfm.")
        .replace("base.Mlp.", "base.mlp.")
        .replace(".Full.", ".full.")
        .replace(".Mixture.", ".")
        .replace("enhancer.AsymDiffRec.", "enhancer.asym.")
        .replace("enhancer.Cdae.", "enhancer.cdae.")
        .replace("enhancer.MultiVae.", "enhancer.vae.")
        .replace("enhancer.Ssl.", "enhancer.ssl.")
        .replace("enhancer.DiffRec.", "enhancer.diffrec.")
}

fn saved(model: &CtrModel, rename: impl Fn(&str) -> String) -> Vec<u8> {
    let mut store = SafetensorsStore::from_bytes(None);
    model.save_into(&mut store).unwrap();
    let bytes = store.get_bytes().unwrap();
    let parsed = SafeTensors::deserialize(&bytes).unwrap();
    let views: Vec<_> = parsed.tensors().into_iter().map(|(n, v)| (rename(&n), v)).collect();
    safetensors::serialize(views, None).unwrap()
}

fn logits(model: &CtrModel) -> Vec<f32> {
    let device = Device::flex();
    let x: Vec<f32> = (0..4 * F * DIM).map(|i| (i as f32 * 0.37).sin()).collect();
    let s = vec![0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0];
    let x = Tensor::<2>::from_data(TensorData::new(x, [4, F * DIM]), &device);
    let s = Tensor::<2>::from_data(TensorData::new(s, [4, F]), &device);
    model.logits(x, s).into_data().try_into_vec::<f32>().unwrap()
}

#[test]
fn ctr_checkpoints_named_before_the_enums_load_to_the_same_logits() {
    let dcn = |cross| BaseConfig::DcnV2(DcnV2Config { cross, deep: vec![4], latent_dim: 6, ..DcnV2Config::default() });
    let bases = [
        dcn(CrossKind::FullRank),
        dcn(CrossKind::LowRankMixture { rank: 2, experts: 2 }),
        BaseConfig::DeepFm(DeepFmConfig { deep: vec![4], latent_dim: 6 }),
        BaseConfig::Mlp(MlpConfig { hidden: vec![4], latent_dim: 6 }),
    ];
    let enhancers = [
        EnhancerConfig::None,
        EnhancerConfig::AsymDiffRec(AsymDiffRecConfig::default()),
        EnhancerConfig::Cdae(CdaeConfig::default()),
        EnhancerConfig::MultiVae(MultiVaeConfig::default()),
        EnhancerConfig::Ssl(SslConfig::default()),
        EnhancerConfig::DiffRec(DiffRecConfig::default()),
    ];
    let device = Device::flex();
    for base in &bases {
        for enhancer in &enhancers {
            let cfg = CtrModelConfig { base: base.clone(), enhancer: enhancer.clone() };
            let trained = cfg.init(F, DIM, 5, &device);
            let expected = logits(&trained);
            for (label, bytes) in [("current", saved(&trained, str::to_string)), ("legacy", saved(&trained, old_name))]
            {
                let mut fresh = cfg.init(F, DIM, 6, &device);
                assert_ne!(logits(&fresh), expected, "seed 6 must differ for the check to mean anything");
                let applied = fresh
                    .load_from(&mut recdiff_model::legacy::reader(bytes, &recdiff_model::base::LEGACY_KEYS))
                    .unwrap();
                assert!(applied.missing.is_empty(), "{label} {}: missing {:?}", cfg.name(), applied.missing);
                assert_eq!(logits(&fresh), expected, "{label} {}", cfg.name());
            }
        }
    }
}
