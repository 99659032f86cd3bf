//! `data check`: expected vs found, sizes, SHA-256 against the published checksum.

use recdiff_data::check::{FileSpec, Verdict, check, passed};

const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

#[test]
fn files_are_verified_mismatched_unpublished_or_missing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ratings.dat"), "abc").unwrap();
    std::fs::write(dir.path().join("movies.dat"), "abd").unwrap();
    std::fs::write(dir.path().join("README"), "").unwrap();
    let spec = FileSpec {
        expected: vec!["ratings.dat".into(), "movies.dat".into(), "users.dat".into()],
        optional: vec!["README".into(), "tags.dat".into()],
        sha256: [("ratings.dat".to_string(), ABC_SHA256.to_uppercase()), ("movies.dat".to_string(), ABC_SHA256.into())]
            .into(),
        published: None,
    };
    let c = check(&spec, dir.path()).unwrap();
    let verdicts: Vec<(&str, &Verdict, Option<u64>)> =
        c.iter().map(|c| (c.file.as_str(), &c.verdict, c.size)).collect();
    assert_eq!(
        verdicts,
        vec![
            ("ratings.dat", &Verdict::Verified, Some(3)),
            ("movies.dat", &Verdict::Mismatch { published: ABC_SHA256.into() }, Some(3)),
            ("users.dat", &Verdict::Missing, None),
            ("README", &Verdict::Unpublished, Some(0)),
            ("tags.dat", &Verdict::Absent, None),
        ]
    );
    assert_eq!(c[0].sha256.as_deref(), Some(ABC_SHA256));
    assert!(!passed(&c));
    assert!(passed(&c[3..]), "optional absent and unpublished files pass");
}
