//! `--device` strings: `cpu`, `cuda`, `cuda:N`, and what a build without CUDA says.

#[test]
fn device_strings() {
    assert!(comp_runtime::device("cpu").unwrap().is_cpu());
    let err = comp_runtime::device("tpu").unwrap_err().to_string();
    assert!(err.contains("cpu, cuda or cuda:N"), "{err}");
    if !cfg!(feature = "cuda") {
        let err = comp_runtime::device("cuda:1").unwrap_err().to_string();
        assert!(err.contains("--features cuda"), "{err}");
    }
}
