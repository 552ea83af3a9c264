use candle_core::{Device, Tensor};
use comp_runtime::fused::{fused_sum, Coeffs};
use comp_runtime::noise::Noise;
use std::time::Instant;

fn min_time<F: FnMut()>(mut f: F) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..300 {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64() * 1e6);
    }
    best
}

fn main() {
    let dev = Device::Cpu;
    for k in [2usize, 8] {
        for n in [10_000usize, 100_000] {
            let stacked = Noise::new(1).normal(&[k * n, 2], &dev).unwrap();
            let parts: Vec<Tensor> = (0..k).map(|j| stacked.narrow(0, j * n, n).unwrap().contiguous().unwrap()).collect();
            let c: Vec<f32> = (0..k).map(|j| 1.0 / (j + 1) as f32).collect();
            let sh = Coeffs::Shared(c.clone());
            let fused = min_time(|| { fused_sum(&stacked, k, &sh).unwrap(); });
            let naive = min_time(|| {
                let mut acc = (&parts[0] * c[0] as f64).unwrap();
                for j in 1..k { acc = (acc + (&parts[j] * c[j] as f64).unwrap()).unwrap(); }
            });
            let src = stacked.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let total = n * 2;
            let raw = min_time(|| {
                let mut out = vec![0f32; total];
                for j in 0..k { let s = &src[j*total..(j+1)*total]; let cj = c[j]; out.iter_mut().zip(s).for_each(|(o, x)| *o += cj * x); }
                std::hint::black_box(out);
            });
            let alloc = min_time(|| { let v: Vec<f32> = vec![1.0; total]; std::hint::black_box(v); });
            println!("K={k} N={n}: fused {fused:.1}µs naive {naive:.1}µs  ratio {:.2}  raw-seq {raw:.1}µs  alloc+fill {alloc:.1}µs", naive / fused);
        }
    }
}
