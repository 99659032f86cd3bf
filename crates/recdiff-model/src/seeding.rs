//! Seeds for burn's own random draws (dropout masks, `Tensor::random`).
//!
//! burn's flex backend keeps one process-global RNG, reseeded by `Device::seed`. A forward pass that
//! draws from it is reproducible only if the RNG is seeded just before it *and* no other thread
//! draws in between. [`seeded_forward`] does both: it holds a process-wide lock, seeds the device
//! from the experiment seed and a per-step stream id, and runs the forward pass. Two trainings in one
//! process (tests, a comparison run in threads) then each see their own, seed-determined masks.
//! The lock is held only for the forward pass; backward and the optimiser step draw nothing.
//!
//! burn's layer constructors draw their default weights from that RNG too, lazily, when a parameter
//! is first read. Every model is built with `init::build_seeded`, which builds it and redraws (so
//! reads) every parameter inside [`exclusive`]: building one in another thread cannot advance the
//! RNG between a seed and a forward pass. A module built with burn's constructors directly, outside
//! the lock, would (tests included: a direct `SasRecConfig::init` in one unit test moved another's
//! draws).
//!
//! Inside [`seeded_forward`] the calling thread also holds a *mirror* of the device RNG: the same
//! generator (`StdRng` of the rand version burn uses), seeded the same way. [`crate::dropout`]
//! draws its masks from it in one tight loop, the same numbers burn's per-element sampler would
//! give, so a forward whose only random draws are those masks gets burn's masks exactly, faster.
//! A forward must take all its device draws from one of the two: after the mirror has been drawn
//! from, burn's own RNG has not moved.
//!
//! The mirror is the ChaCha12 generator that rand 0.10's `StdRng` wraps (crate `chacha20`), held
//! directly so that it can seek: a long draw can be split into stretches of the stream, each drawn
//! by its own generator placed at its start ([`Mirror::at`]), in parallel, giving the same numbers.

use burn::tensor::Device;
use chacha_burn::ChaCha12Rng;
use rand_burn::SeedableRng;
use std::cell::RefCell;
use std::sync::Mutex;

static DEVICE_RNG: Mutex<()> = Mutex::new(());

thread_local! {
    static MIRROR: RefCell<Option<Mirror>> = const { RefCell::new(None) };
}

/// The thread's copy of burn's device RNG: `StdRng::seed_from_u64(seed)` of rand 0.10.
pub struct Mirror {
    seed: u64,
    rng: ChaCha12Rng,
}

impl Mirror {
    fn new(seed: u64) -> Self {
        Self { seed, rng: ChaCha12Rng::seed_from_u64(seed) }
    }

    /// The generator, to draw from in order.
    pub fn rng(&mut self) -> &mut ChaCha12Rng {
        &mut self.rng
    }

    /// The position of the next draw, in 32-bit words from the stream's start.
    pub fn word_pos(&self) -> u128 {
        self.rng.get_word_pos()
    }

    /// A separate generator on the same stream, placed `word_pos` words from its start.
    pub fn at(&self, word_pos: u128) -> ChaCha12Rng {
        let mut rng = ChaCha12Rng::seed_from_u64(self.seed);
        rng.set_word_pos(word_pos);
        rng
    }

    /// Moves the generator to `word_pos`, as if it had drawn everything before it.
    pub fn seek(&mut self, word_pos: u128) {
        self.rng.set_word_pos(word_pos);
    }
}

/// Clears the thread's mirror when the forward pass ends, by return or by unwinding.
struct MirrorGuard;

impl Drop for MirrorGuard {
    fn drop(&mut self) {
        MIRROR.with(|m| m.borrow_mut().take());
    }
}

/// Runs `draw` on the mirror of the device RNG when the thread is inside [`seeded_forward`];
/// `None` outside it.
pub fn with_mirror<T>(draw: impl FnOnce(&mut Mirror) -> T) -> Option<T> {
    MIRROR.with(|m| m.borrow_mut().as_mut().map(draw))
}

/// SplitMix64 of `seed` and `stream`: well-spread seeds for consecutive steps.
pub fn stream_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(0x6A09_E667_F3BC_C909);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Runs `draws` holding the lock of burn's RNG, without reseeding it: for code that draws from the
/// RNG but whose draws do not matter (burn's default weights, overwritten by a seeded init).
pub fn exclusive<T>(draws: impl FnOnce() -> T) -> T {
    let _guard = DEVICE_RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    draws()
}

/// Runs `forward` with burn's RNG seeded from (`seed`, `stream`), exclusive of every other caller.
pub fn seeded_forward<T>(device: &Device, seed: u64, stream: u64, forward: impl FnOnce() -> T) -> T {
    let _guard = DEVICE_RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let s = stream_seed(seed, stream);
    device.seed(s);
    MIRROR.with(|m| *m.borrow_mut() = Some(Mirror::new(s)));
    let _clear = MirrorGuard;
    forward()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, Tensor};

    fn draw(seed: u64, stream: u64) -> Vec<f32> {
        let device = Device::flex();
        seeded_forward(&device, seed, stream, || {
            Tensor::<1>::random([16], Distribution::Default, &device).into_data().try_into_vec::<f32>().unwrap()
        })
    }

    #[test]
    fn the_same_seed_and_stream_draw_the_same_numbers_while_other_threads_draw_too() {
        let noise = std::thread::spawn(|| {
            for i in 0..200 {
                draw(99, i);
            }
        });
        let a: Vec<_> = (0..50).map(|i| draw(7, i)).collect();
        let b: Vec<_> = (0..50).map(|i| draw(7, i)).collect();
        noise.join().unwrap();
        assert_eq!(a, b);
        assert_ne!(draw(7, 0), draw(8, 0));
        assert_ne!(draw(7, 0), draw(7, 1));
    }

    #[test]
    fn building_models_in_another_thread_does_not_move_seeded_draws() {
        // burn's layer constructors draw their default weights from the same global RNG; a model
        // built while another thread is inside `seeded_forward` used to shift that thread's masks.
        let builder = std::thread::spawn(|| {
            let device = Device::flex();
            for seed in 0..40 {
                crate::seq::SeqModelConfig::default().init(200, 20, seed, &device);
            }
        });
        let mut a = Vec::new();
        let mut b = Vec::new();
        while !builder.is_finished() {
            a.extend((0..20).map(|i| draw(11, i)));
            b.extend((0..20).map(|i| draw(11, i)));
        }
        builder.join().unwrap();
        assert!(!a.is_empty());
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x, y, "draw {i} moved");
        }
    }
}
