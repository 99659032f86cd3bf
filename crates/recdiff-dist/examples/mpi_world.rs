//! `mpirun -np N mpi_world [config-hash]`: the MPI collectives and the start-up check on a real
//! world, checked (`.ci/run` runs it with 2 and 3 ranks). Rank `r` contributes `r + 1` to a sum
//! and `r + 1` bytes to a gather and sends rank `k` its own buffer by all-to-all-v, and every rank exits 1 unless it got the right sum and every
//! buffer in rank order; also exits 1, with the check's error, when the world is refused (as it
//! must be when one rank is given another config hash through `RECDIFF_TEST_CONFIG_RANK1`).
//! With `RECDIFF_TEST_KILL_RANK=r`, rank `r` aborts before the first sum: `mpirun` must end the
//! whole job with a failure, not hang.

#[cfg(feature = "mpi")]
fn main() {
    use recdiff_dist::Collective;
    use recdiff_dist::identity::{Identity, check_world};
    let world = recdiff_dist::mpi::MpiWorld::init().expect("MPI");
    let (rank, size) = (world.rank(), world.size());
    let mut config = std::env::args().nth(1).unwrap_or_else(|| "c1".into());
    if let (1, Ok(other)) = (rank, std::env::var("RECDIFF_TEST_CONFIG_RANK1")) {
        config = other;
    }
    let me = Identity::of_this_process(&config, env!("CARGO_PKG_VERSION")).expect("identity");
    if let Err(e) = check_world(&world, &me, 8) {
        eprintln!("rank {rank}: {e}");
        std::process::exit(1);
    }
    if std::env::var("RECDIFF_TEST_KILL_RANK").is_ok_and(|r| r == rank.to_string()) {
        // Dies between collectives, as a crashed or killed rank would.
        std::process::abort();
    }
    let mut v = vec![rank as f32 + 1.0, 0.5];
    world.all_reduce_sum(&mut v).expect("all_reduce");
    let all = world.all_gather(&vec![rank as u8; rank + 1]).expect("all_gather");
    let want_sum = vec![(size * (size + 1) / 2) as f32, 0.5 * size as f32];
    let want_all: Vec<Vec<u8>> = (0..size).map(|r| vec![r as u8; r + 1]).collect();
    let send: Vec<Vec<u8>> = (0..size).map(|to| vec![(10 * rank + to) as u8; to + rank + 1]).collect();
    let got = world.all_to_all(&send).expect("all_to_all");
    let want_got: Vec<Vec<u8>> = (0..size).map(|from| vec![(10 * from + rank) as u8; rank + from + 1]).collect();
    if v != want_sum || all != want_all || got != want_got {
        eprintln!(
            "rank {rank}/{size}: sum {v:?} (want {want_sum:?}), gathered {all:?} (want {want_all:?}), all-to-all {got:?} (want {want_got:?})"
        );
        std::process::exit(1);
    }
    println!("rank {rank}/{size}: sum {v:?}, gathered {} buffers in rank order, all-to-all delivered", all.len());
}

#[cfg(not(feature = "mpi"))]
fn main() {
    eprintln!("build with --features mpi");
    std::process::exit(2);
}
