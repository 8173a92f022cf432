//! Properties every registered generator must have, checked through the
//! public interface only (`generator_by_name` + `GenerateExt::generate`).

use imprint_core::GenerateExt;
use imprint_gen::{GENERATOR_NAMES, generator_by_name};
use ndarray::Array2;
use proptest::prelude::{ProptestConfig, Strategy, prop_assert, prop_assert_eq, proptest};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Generators whose proxies are samples of the class.
const SELECTING: [&str; 5] = ["all", "random", "kmedoids", "fps", "cov_max"];

/// `n x d` finite data with `d >= 2` (cov_max rejects `d = 1`), with some
/// duplicated rows to exercise ties.
fn data() -> impl Strategy<Value = Array2<f32>> {
    (1usize..25, 2usize..6).prop_flat_map(|(n, d)| {
        (proptest::collection::vec(-50.0f32..50.0, n * d), proptest::collection::vec(0usize..n, 0..3))
            .prop_map(move |(v, dups)| {
                let mut x = Array2::from_shape_vec((n, d), v).expect("n * d values");
                for (i, &src) in dups.iter().enumerate() {
                    let row = x.row(src).to_owned();
                    x.row_mut(i % n).assign(&row);
                }
                x
            })
    })
}

fn is_a_row_of(p: ndarray::ArrayView1<'_, f32>, x: &Array2<f32>) -> bool {
    x.outer_iter().any(|r| r == p)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_generator_keeps_its_contract(x in data(), k in 1usize..8, seed in 0u64..1000) {
        for &name in GENERATOR_NAMES {
            let g = generator_by_name(name, Some(k)).unwrap();
            let out = g.generate(x.view(), &mut ChaCha8Rng::seed_from_u64(seed)).unwrap();
            prop_assert_eq!(out.ncols(), x.ncols(), "{}", name);
            prop_assert!(out.iter().all(|v| v.is_finite()), "{}", name);
            match g.n_proxies() {
                None => prop_assert_eq!(&out, &x, "{}", name),
                Some(kk) if x.nrows() < kk => prop_assert_eq!(&out, &x, "{}: n < k keeps the samples", name),
                Some(kk) => prop_assert!(out.nrows() >= 1 && out.nrows() <= kk, "{}: {} proxies", name, out.nrows()),
            }
            if SELECTING.contains(&name) {
                prop_assert!(out.outer_iter().all(|p| is_a_row_of(p, &x)), "{}: not a sample", name);
            }
            // Same seed, same proxies.
            let again = g.generate(x.view(), &mut ChaCha8Rng::seed_from_u64(seed)).unwrap();
            prop_assert_eq!(out, again, "{}", name);
        }
    }
}

#[test]
fn every_generator_rejects_bad_input_with_an_error() {
    let nan = ndarray::array![[1.0f32, f32::NAN], [0.0, 1.0]];
    let empty = Array2::<f32>::zeros((0, 3));
    for &name in GENERATOR_NAMES {
        let g = generator_by_name(name, Some(2)).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert!(matches!(
            g.generate(nan.view(), &mut rng),
            Err(imprint_core::ImprintError::NonFinite { .. })
        ));
        assert!(matches!(g.generate(empty.view(), &mut rng), Err(imprint_core::ImprintError::Empty { .. })));
    }
}

#[test]
fn every_generator_is_independent_of_the_thread_count() {
    // 700 samples: several row blocks, so the parallel paths run.
    let x = Array2::from_shape_fn((700, 9), |(i, j)| ((i * 31 + j * 17) % 97) as f32 / 9.0 + (i % 5) as f32);
    for &name in GENERATOR_NAMES {
        let g = generator_by_name(name, Some(6)).unwrap();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| g.generate(x.view(), &mut ChaCha8Rng::seed_from_u64(5)).unwrap())
        };
        let (one, two) = (run(1), run(2));
        assert!(one.iter().zip(&two).all(|(a, b)| a.to_bits() == b.to_bits()), "{name}");
    }
}
