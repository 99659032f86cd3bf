//! `mpirun -np N mpi_world [config-hash]`: the MPI collectives and the start-up check on a real
//! world. Rank `r` contributes `r + 1` to a sum and `r + 1` bytes to a gather; exits 1 with the
//! check's error when the world is refused (e.g. one rank given another config hash through
//! `RECDIFF_TEST_CONFIG_RANK1`).

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
    let mut v = vec![rank as f32 + 1.0, 0.5];
    world.all_reduce_sum(&mut v).expect("all_reduce");
    let all = world.all_gather(&vec![rank as u8; rank + 1]).expect("all_gather");
    let lens: Vec<usize> = all.iter().map(Vec::len).collect();
    println!("rank {rank}/{size}: sum {v:?} gathered {lens:?}");
}

#[cfg(not(feature = "mpi"))]
fn main() {
    eprintln!("build with --features mpi");
    std::process::exit(2);
}
