//! clevr-pos: the scene generator, the detector, the UNet (shapes, gradients, save/load), a
//! short training run, and composed sampling through the executor. All on the tiny network.

use candle_core::{DType, Device, Tensor};
use comp_lab::clevr::data::{self, Scene, PALETTE, SIZE};
use comp_lab::clevr::detect::{calibrate, Detector};
use comp_lab::clevr::train::{self as clevr, step_batch, TrainOptions, Trainee};
use comp_lab::ema::Ema;
use comp_models::clevr::conv::Conv3;
use comp_models::clevr::norm::{gn_act, gn_act_reference};
use comp_models::clevr::{card, with_reference_ops, Clevr, Config};
use comp_runtime::{execute, Denoiser, ExecOptions, Prepared, Schedule};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn inputs(b: usize, dtype: DType) -> [Tensor; 4] {
    let dev = Device::Cpu;
    let x = Tensor::randn(0f32, 1.0, (b, 3, SIZE, SIZE), &dev).unwrap().to_dtype(dtype).unwrap();
    let t = Tensor::new(&[10f32, 500.0, 999.0, 0.0][..b], &dev).unwrap();
    let xy = Tensor::from_vec(vec![0.2f32, 0.3, 0.7, 0.8, 0.5, 0.5, 0.1, 0.9][..2 * b].to_vec(), (b, 2), &dev).unwrap();
    let mask = Tensor::new(&[1f32, 0.0, 1.0, 1.0][..b], &dev).unwrap();
    [x, t, xy, mask]
}

#[test]
fn generator_is_deterministic_and_labels_mark_objects() {
    assert_eq!(data::batch(&mut rng(3), 64, 0.1), data::batch(&mut rng(3), 64, 0.1));
    assert_ne!(data::batch(&mut rng(3), 8, 0.1), data::batch(&mut rng(4), 8, 0.1));
    let det = Detector::default();
    let plane = SIZE * SIZE;
    let mut r = rng(5);
    for _ in 0..300 {
        let scene = Scene::random(&mut r);
        assert!((1..=5).contains(&scene.objects.len()));
        let img = scene.render();
        assert!(img.iter().all(|v| (-1.0..=1.0).contains(v)));
        for o in &scene.objects {
            // The pixel holding the centre is the object's colour (fully covered: no overlaps).
            let (c, row) = data::to_pixel(o.position());
            let p = row as usize * SIZE + c as usize;
            for ch in 0..3 {
                assert!((img[ch * plane + p] - (2.0 * PALETTE[o.colour][ch] - 1.0)).abs() < 1e-5);
            }
            assert!(det.object_at(&img, o.position()), "{o:?}");
        }
    }
    // Batches: every kept label marks an object; about 10% are dropped to null.
    let b = data::batch(&mut rng(6), 2000, 0.1);
    let dropped = b.mask.iter().filter(|m| **m == 0.0).count();
    assert!((140..=260).contains(&dropped), "{dropped} of 2000 dropped");
    for i in 0..b.n {
        let img = &b.images[i * 3 * plane..(i + 1) * 3 * plane];
        let pos = [b.labels[2 * i] as f64, b.labels[2 * i + 1] as f64];
        if b.mask[i] == 1.0 {
            assert!(det.object_at(img, pos), "example {i}: no object at {pos:?}");
        } else {
            assert_eq!(pos, [0.0, 0.0]);
        }
    }
}

#[test]
fn detector_finds_true_positions_and_rejects_empty_ones() {
    let c = calibrate(&Detector::default(), 1000, 11);
    eprintln!("{c:?}");
    // Measured: 100% of true positions, 0% of empty ones, a few near misses.
    assert!(c.true_positions > 2000 && c.true_found >= 0.99, "{c:?}");
    assert!(c.empty_positions > 500 && c.empty_found <= 0.01, "{c:?}");
    assert!(c.near_found <= 0.2, "{c:?}");
    // Pure noise is no object anywhere.
    let noise = Tensor::randn(0f32, 1.0, 3 * SIZE * SIZE, &Device::Cpu).unwrap().to_vec1::<f32>().unwrap();
    let det = Detector::default();
    let found = (0..100).filter(|i| det.object_at(&noise, [0.05 + 0.009 * *i as f64, 0.5])).count();
    assert!(found <= 5, "{found} of 100 positions in noise");
}

/// Max |a − b| over all elements.
fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.dims(), b.dims());
    (a - b).unwrap().abs().unwrap().max_all().unwrap().to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
}

/// The CPU im2col convolution against candle's `conv2d` (the GPU path), forward and backward,
/// at strides 1 and 2 and with the decoder's folded 2× upsampling, on odd sizes too.
#[test]
fn conv3_matches_candle_conv2d() {
    let dev = Device::Cpu;
    for (stride, up) in [(1, false), (2, false), (1, true)] {
        let vm = candle_nn::VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&vm, DType::F64, &dev);
        let conv = if up { Conv3::upsampling(5, 6, vb).unwrap() } else { Conv3::new(5, 6, stride, vb).unwrap() };
        card::init_weights(&vm, 1).unwrap();
        for (h, w) in [(32, 32), (8, 8), (5, 7)] {
            let x = candle_core::Var::from_tensor(&Tensor::randn(0f64, 1.0, (2, h, w, 5), &dev).unwrap()).unwrap();
            let a = candle_core::Module::forward(&conv, x.as_tensor()).unwrap();
            let b = with_reference_ops(|| candle_core::Module::forward(&conv, x.as_tensor()).unwrap());
            let d = max_diff(&a, &b);
            assert!(d < 1e-10, "stride {stride}, up {up}, {h}x{w}: max diff {d}");
            // Gradients of a random projection, w.r.t. the input and the weights.
            let r = Tensor::randn(0f64, 1.0, a.dims(), &dev).unwrap();
            let ga = (a * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let gb = (b * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let vars = vm.all_vars();
            for t in vars.iter().map(|v| v.as_tensor()).chain([x.as_tensor()]) {
                let d = max_diff(ga.get(t).unwrap(), gb.get(t).unwrap());
                assert!(d < 1e-9, "stride {stride}, up {up}, {h}x{w}: gradient max diff {d}");
            }
        }
    }
}

/// The same with 64 input channels at 2×32×32: an unfolded row is 9·64 + 1 = 577 wide, padded to
/// 592, so a backward block holds 2¹⁹/592 = 885 output rows: an image's 1,024 rows at stride 1
/// take 2 blocks (4,096 upsampled: 5; 256 at stride 2: 1), each image is its own task, and the
/// weight gradient sums over the blocks of a task and over the tasks, which the small
/// configurations above never do (the forward pass runs 64-row blocks).
#[test]
fn conv3_matches_candle_conv2d_across_several_blocks() {
    let dev = Device::Cpu;
    for (stride, up) in [(1, false), (2, false), (1, true)] {
        let vm = candle_nn::VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&vm, DType::F64, &dev);
        let conv = if up { Conv3::upsampling(64, 8, vb).unwrap() } else { Conv3::new(64, 8, stride, vb).unwrap() };
        card::init_weights(&vm, 2).unwrap();
        let x = candle_core::Var::from_tensor(&Tensor::randn(0f64, 1.0, (2, 32, 32, 64), &dev).unwrap()).unwrap();
        let a = candle_core::Module::forward(&conv, x.as_tensor()).unwrap();
        let b = with_reference_ops(|| candle_core::Module::forward(&conv, x.as_tensor()).unwrap());
        let d = max_diff(&a, &b);
        assert!(d < 1e-9, "stride {stride}, up {up}: max diff {d}");
        let r = Tensor::randn(0f64, 1.0, a.dims(), &dev).unwrap();
        let ga = (a * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let gb = (b * &r).unwrap().sum_all().unwrap().backward().unwrap();
        for t in vm.all_vars().iter().map(|v| v.as_tensor()).chain([x.as_tensor()]) {
            let d = max_diff(ga.get(t).unwrap(), gb.get(t).unwrap());
            assert!(d < 1e-8, "stride {stride}, up {up}: gradient max diff {d}");
        }
    }
}

/// In f32 the CPU convolution runs the direct kernels (`comp_models::clevr::direct`, no
/// unfolding, where the CPU has AVX2 or AVX-512): against candle's `conv2d` in f32, forward and
/// backward, for every kind of convolution the UNet has, channel counts that fill vectors in
/// part (5 → 6, 24 → 20) and in full (24 → 48), on odd sizes, and with 64 input channels (one
/// image per backward task, the weight gradient summed over chunks and tasks). Tolerances are
/// relative to the largest value (sums of up to 576 products in f32). The unfolding GEMM path
/// (`COMP_CONV=gemm`) is what the f64 tests above run.
#[test]
fn conv3_direct_kernels_match_candle_conv2d_in_f32() {
    let dev = Device::Cpu;
    let rel = |a: &Tensor, b: &Tensor| max_diff(a, b) / (1.0 + b.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap() as f64);
    for (cin, cout, h, w) in [(5, 6, 5, 7), (24, 20, 8, 8), (24, 48, 16, 16), (64, 8, 32, 32)] {
        for (stride, up) in [(1, false), (2, false), (1, true)] {
            let vm = candle_nn::VarMap::new();
            let vb = candle_nn::VarBuilder::from_varmap(&vm, DType::F32, &dev);
            let conv = if up { Conv3::upsampling(cin, cout, vb).unwrap() } else { Conv3::new(cin, cout, stride, vb).unwrap() };
            card::init_weights(&vm, 5).unwrap();
            let x = candle_core::Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, h, w, cin), &dev).unwrap()).unwrap();
            let a = candle_core::Module::forward(&conv, x.as_tensor()).unwrap();
            let b = with_reference_ops(|| candle_core::Module::forward(&conv, x.as_tensor()).unwrap());
            let d = rel(&a, &b);
            assert!(d < 1e-5, "{cin}->{cout} {h}x{w} stride {stride}, up {up}: relative diff {d}");
            let r = Tensor::randn(0f32, 1.0, a.dims(), &dev).unwrap();
            let ga = (a * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let gb = (b * &r).unwrap().sum_all().unwrap().backward().unwrap();
            for t in vm.all_vars().iter().map(|v| v.as_tensor()).chain([x.as_tensor()]) {
                let d = rel(ga.get(t).unwrap(), gb.get(t).unwrap());
                assert!(d < 1e-5, "{cin}->{cout} {h}x{w} stride {stride}, up {up}: gradient relative diff {d}");
            }
        }
    }
}

/// The fused residual block (one operation, its own backward) computes what the block as
/// separate operations computes, and so do its gradients: w.r.t. every parameter, the input and
/// the embedding (through the scale and shift), with and without the 1×1 skip convolution, at
/// sizes that take one and several row blocks of the skip path, on one input tensor and on two
/// concatenated along the channels (a decoder block's).
#[test]
fn fused_resblock_matches_the_unfused_one() {
    use comp_models::clevr::blocks::ResBlock;
    let dev = Device::Cpu;
    let rel = |a: &Tensor, b: &Tensor| max_diff(a, b) / (1.0 + b.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap() as f64);
    for (cin, cout, groups, h, first) in [(16, 16, 4, 8, 16), (24, 48, 8, 16, 16), (72, 24, 8, 8, 48), (96, 48, 8, 8, 48)] {
        let vm = candle_nn::VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&vm, DType::F32, &dev);
        let block = ResBlock::new(cin, cout, 40, groups, vb).unwrap();
        // Random values everywhere (GroupNorm's γ = 1, β = 0 would hide their gradients' terms).
        for v in vm.all_vars() {
            v.set(&Tensor::randn(0f32, 0.3, v.dims(), &dev).unwrap()).unwrap();
        }
        let a = candle_core::Var::from_tensor(&Tensor::randn(0f32, 1.0, (3, h, h, first), &dev).unwrap()).unwrap();
        let b = candle_core::Var::from_tensor(&Tensor::randn(0f32, 1.0, (3, h, h, cin - first), &dev).unwrap()).unwrap();
        let emb = candle_core::Var::from_tensor(&Tensor::randn(0f32, 1.0, (3, 40), &dev).unwrap()).unwrap();
        let reference = block.forward_unfused(&Tensor::cat(&[a.as_tensor(), b.as_tensor()], 3).unwrap(), emb.as_tensor()).unwrap();
        let r = Tensor::randn(0f32, 1.0, reference.dims(), &dev).unwrap();
        let gr = (&reference * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let fused = if cin == first {
            block.forward(a.as_tensor(), emb.as_tensor()).unwrap()
        } else {
            block.forward_cat(a.as_tensor(), b.as_tensor(), emb.as_tensor()).unwrap()
        };
        let d = rel(&fused, &reference);
        assert!(d < 1e-5, "{cin}->{cout} at {h}x{h}: relative diff {d}");
        let gf = (fused * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let data = vm.data().lock().unwrap().clone();
        let named = data.iter().map(|(n, v)| (n.clone(), v.as_tensor().clone()));
        let inputs = [("a", &a), ("b", &b), ("emb", &emb)].map(|(n, v)| (n.to_string(), v.as_tensor().clone()));
        for (name, t) in named.chain(inputs) {
            if name == "b" && cin == first {
                continue;
            }
            let d = rel(gf.get(&t).unwrap(), gr.get(&t).unwrap());
            assert!(d < 1e-4, "{cin}->{cout} at {h}x{h}, {name}: gradient relative diff {d}");
        }
    }
}

/// The fused residual block computes the same bits on any number of threads (its row blocks are
/// chosen from the shapes, the skip path's weight-gradient parts summed in order), so training
/// stays deterministic.
#[test]
fn fused_resblock_is_the_same_on_any_number_of_threads() {
    use comp_models::clevr::blocks::ResBlock;
    let dev = Device::Cpu;
    let vm = candle_nn::VarMap::new();
    let block = ResBlock::new(72, 24, 40, 8, candle_nn::VarBuilder::from_varmap(&vm, DType::F32, &dev)).unwrap();
    card::init_weights(&vm, 9).unwrap();
    let a = candle_core::Var::from_tensor(&Tensor::randn(0f32, 1.0, (5, 16, 16, 48), &dev).unwrap()).unwrap();
    let b = candle_core::Var::from_tensor(&Tensor::randn(0f32, 1.0, (5, 16, 16, 24), &dev).unwrap()).unwrap();
    let emb = Tensor::randn(0f32, 1.0, (5, 40), &dev).unwrap();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(|| {
            let y = block.forward_cat(a.as_tensor(), b.as_tensor(), &emb).unwrap();
            let g = y.sqr().unwrap().sum_all().unwrap().backward().unwrap();
            let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let mut out = vec![flat(&y), flat(g.get(a.as_tensor()).unwrap()), flat(g.get(b.as_tensor()).unwrap())];
            out.extend(vm.all_vars().iter().map(|v| flat(g.get(v.as_tensor()).unwrap())));
            out
        })
    };
    assert!(run(1) == run(3), "results differ between 1 and 3 threads");
}

/// The fused GroupNorm + affine + SiLU kernel against the same function in basic ops, forward
/// and backward (w.r.t. x and the affine coefficients), with and without SiLU.
#[test]
fn fused_groupnorm_matches_basic_ops() {
    let dev = Device::Cpu;
    for (groups, silu) in [(2, true), (3, false), (1, true)] {
        let x = candle_core::Var::from_tensor(&(Tensor::randn(0f64, 2.0, (3, 20, 6), &dev).unwrap() + 0.7).unwrap()).unwrap();
        let ab = candle_core::Var::from_tensor(&Tensor::randn(0f64, 1.0, (3, 2, 6), &dev).unwrap()).unwrap();
        let a = gn_act(x.as_tensor(), ab.as_tensor(), groups, silu).unwrap();
        let b = gn_act_reference(x.as_tensor(), ab.as_tensor(), groups, silu).unwrap();
        let d = max_diff(&a, &b);
        assert!(d < 1e-12, "groups {groups}, silu {silu}: max diff {d}");
        let r = Tensor::randn(0f64, 1.0, a.dims(), &dev).unwrap();
        let ga = (a * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let gb = (b * &r).unwrap().sum_all().unwrap().backward().unwrap();
        for t in [x.as_tensor(), ab.as_tensor()] {
            let d = max_diff(ga.get(t).unwrap(), gb.get(t).unwrap());
            assert!(d < 1e-10, "groups {groups}, silu {silu}: gradient max diff {d}");
        }
    }
    // f32 agrees too (the kernel accumulates its sums in f64).
    let x = Tensor::randn(0f32, 1.0, (2, 64, 8), &dev).unwrap();
    let ab = Tensor::randn(0f32, 1.0, (2, 2, 8), &dev).unwrap();
    let d = max_diff(&gn_act(&x, &ab, 4, true).unwrap(), &gn_act_reference(&x, &ab, 4, true).unwrap());
    assert!(d < 1e-5, "f32: max diff {d}");
    // And its gradients (the f32 SiLU uses its own vectorized exponential) against the f64
    // reference's.
    let x = candle_core::Var::from_tensor(&x).unwrap();
    let ab = candle_core::Var::from_tensor(&ab).unwrap();
    let r = Tensor::randn(0f32, 1.0, (2, 64, 8), &dev).unwrap();
    let g32 = (gn_act(x.as_tensor(), ab.as_tensor(), 4, true).unwrap() * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let (x64, ab64) = (x.to_dtype(DType::F64).unwrap(), ab.to_dtype(DType::F64).unwrap());
    let (x64, ab64) = (candle_core::Var::from_tensor(&x64).unwrap(), candle_core::Var::from_tensor(&ab64).unwrap());
    let y64 = gn_act_reference(x64.as_tensor(), ab64.as_tensor(), 4, true).unwrap();
    let g64 = (y64 * r.to_dtype(DType::F64).unwrap()).unwrap().sum_all().unwrap().backward().unwrap();
    for (a, b) in [(x.as_tensor(), x64.as_tensor()), (ab.as_tensor(), ab64.as_tensor())] {
        let d = max_diff(&g32.get(a).unwrap().to_dtype(DType::F64).unwrap(), g64.get(b).unwrap());
        assert!(d < 1e-4, "f32 gradient: max diff {d}");
    }
}

/// The convolution computes the same bits on any number of threads: its blocks are chosen from
/// the shapes alone, and the weight gradient's per-task parts are summed in task order.
#[test]
fn conv3_is_the_same_on_any_number_of_threads() {
    let dev = Device::Cpu;
    for (stride, up) in [(1, false), (2, false), (1, true)] {
        let vm = candle_nn::VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&vm, DType::F32, &dev);
        let conv = if up { Conv3::upsampling(24, 16, vb).unwrap() } else { Conv3::new(24, 16, stride, vb).unwrap() };
        card::init_weights(&vm, 3).unwrap();
        let x = candle_core::Var::from_tensor(&Tensor::randn(0f32, 1.0, (37, 16, 16, 24), &dev).unwrap()).unwrap();
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(|| {
                let y = candle_core::Module::forward(&conv, x.as_tensor()).unwrap();
                let r = Tensor::ones(y.dims(), DType::F32, &dev).unwrap();
                let g = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
                let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                let mut out = vec![flat(&y), flat(g.get(x.as_tensor()).unwrap())];
                out.extend(vm.all_vars().iter().map(|v| flat(g.get(v.as_tensor()).unwrap())));
                out
            })
        };
        assert!(run(1) == run(3), "stride {stride}, up {up}: results differ between 1 and 3 threads");
    }
}

/// The whole tiny UNet with the CPU kernels computes what candle's ops (the GPU path) compute,
/// and so do its gradients.
#[test]
fn unet_kernels_match_candle_ops() {
    let dev = Device::Cpu;
    let tr = Trainee::new(&Config::tiny(), 4, DType::F64, &dev).unwrap();
    let [x, t, xy, mask] = inputs(3, DType::F64);
    let a = tr.unet.forward(&x, &t, &xy, &mask).unwrap();
    let b = with_reference_ops(|| tr.unet.forward(&x, &t, &xy, &mask).unwrap());
    let d = max_diff(&a, &b);
    assert!(d < 1e-9, "max diff {d}");
    let ga = a.sum_all().unwrap().backward().unwrap();
    let gb = b.sum_all().unwrap().backward().unwrap();
    for (name, var) in tr.varmap.data().lock().unwrap().iter() {
        let d = max_diff(ga.get(var.as_tensor()).unwrap(), gb.get(var.as_tensor()).unwrap());
        assert!(d < 1e-8, "{name}: gradient max diff {d}");
    }
    // In f32 the residual blocks are fused operations and the first convolution skips its
    // input's gradient: the same function and gradients, to f32's precision.
    let tr = Trainee::new(&Config::tiny(), 4, DType::F32, &dev).unwrap();
    let [x, t, xy, mask] = inputs(3, DType::F32);
    let a = tr.unet.forward(&x, &t, &xy, &mask).unwrap();
    let b = with_reference_ops(|| tr.unet.forward(&x, &t, &xy, &mask).unwrap());
    let rel = |a: &Tensor, b: &Tensor| max_diff(a, b) / (1e-3 + b.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap() as f64);
    let d = rel(&a, &b);
    assert!(d < 1e-5, "f32: relative diff {d}");
    let ga = a.sum_all().unwrap().backward().unwrap();
    let gb = b.sum_all().unwrap().backward().unwrap();
    for (name, var) in tr.varmap.data().lock().unwrap().iter() {
        let d = rel(ga.get(var.as_tensor()).unwrap(), gb.get(var.as_tensor()).unwrap());
        assert!(d < 1e-4, "f32 {name}: gradient relative diff {d}");
    }
}

#[test]
fn unet_shapes_on_the_tiny_config() {
    let tr = Trainee::new(&Config::tiny(), 0, DType::F32, &Device::Cpu).unwrap();
    let [x, t, xy, mask] = inputs(4, DType::F32);
    let out = tr.unet.forward(&x, &t, &xy, &mask).unwrap();
    assert_eq!(out.dims(), &[4, 3, SIZE, SIZE]);
    assert!(out.flatten_all().unwrap().to_vec1::<f32>().unwrap().iter().all(|v| v.is_finite()));
    // A seed gives the same network.
    let again = Trainee::new(&Config::tiny(), 0, DType::F32, &Device::Cpu).unwrap();
    let o2 = again.unet.forward(&x, &t, &xy, &mask).unwrap();
    let d = (out - o2).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
    assert_eq!(d, 0.0);
}

/// Central differences against candle's backward on a few weights of the tiny net (f64),
/// including GroupNorm scales and shifts, a stride-2 convolution, the position embedding and
/// the learned null.
#[test]
fn gradients_match_finite_differences() {
    let dev = Device::Cpu;
    let tr = Trainee::new(&Config::tiny(), 2, DType::F64, &dev).unwrap();
    let [x, t, xy, mask] = inputs(2, DType::F64);
    let r = Tensor::randn(0f64, 1.0, (2, 3, SIZE, SIZE), &dev).unwrap();
    let loss = |u: &comp_models::clevr::Unet| (u.forward(&x, &t, &xy, &mask).unwrap() * &r).unwrap().sum_all().unwrap();
    let grads = loss(&tr.unet).backward().unwrap();
    let names = [
        "conv_in.weight",
        "down.0.res.0.norm1.gamma",
        "down.0.res.0.norm2.beta",
        "down.0.down.conv.weight",
        "mid.0.emb.weight",
        "up.1.up.conv.weight",
        "up.0.res.1.conv2.weight",
        "embed.pos.weight",
        "embed.null",
        "norm_out.gamma",
    ];
    let data = tr.varmap.data().lock().unwrap().clone();
    for name in names {
        let var = data.get(name).unwrap_or_else(|| panic!("no variable {name}"));
        let g = grads.get(var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let orig = var.as_tensor().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        for &i in &[0, orig.len() / 2, orig.len() - 1] {
            let eval = |delta: f64| {
                let mut v = orig.clone();
                v[i] += delta;
                var.set(&Tensor::from_vec(v, var.dims(), &dev).unwrap()).unwrap();
                loss(&tr.unet).to_scalar::<f64>().unwrap()
            };
            let h = 1e-5;
            let fd = (eval(h) - eval(-h)) / (2.0 * h);
            var.set(&Tensor::from_vec(orig.clone(), var.dims(), &dev).unwrap()).unwrap();
            let err = (fd - g[i]).abs() / (1e-6 + fd.abs().max(g[i].abs()));
            assert!(err < 1e-4, "{name}[{i}]: finite differences {fd}, backward {}", g[i]);
        }
    }
}

#[test]
fn a_short_training_run_lowers_the_loss_and_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let opts = TrainOptions { steps: 30, batch: 8, lr: 3e-3, log_every: 10, ..TrainOptions::tiny(dir.path().join("clevr-pos")) };
    let mut logs = 0;
    let s = clevr::train(&opts, &Device::Cpu, &mut |_| logs += 1).unwrap();
    let first: f64 = s.losses[..5].iter().sum::<f64>() / 5.0;
    let last: f64 = s.losses[25..].iter().sum::<f64>() / 5.0;
    eprintln!("loss {first:.4} -> {last:.4}");
    assert!(last < 0.8 * first, "loss {first} -> {last}");
    assert!(logs >= 3);
    // A run is a function of its seed: the same options give the same losses, bit for bit
    // (the kernels' parallel work is per sample, their sums in a fixed order).
    let again = TrainOptions { out: dir.path().join("again"), ..opts.clone() };
    let s_again = clevr::train(&again, &Device::Cpu, &mut |_| {}).unwrap();
    assert_eq!(s.losses, s_again.losses);
    // The same seed draws the same batches.
    let sched = Schedule::cosine(1000, 0.008).unwrap();
    let a = step_batch(&sched, &[], 1, 7, 4, &Device::Cpu).unwrap();
    let b = step_batch(&sched, &[], 1, 7, 4, &Device::Cpu).unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.flatten_all().unwrap().to_vec1::<f32>().unwrap(), y.flatten_all().unwrap().to_vec1::<f32>().unwrap());
    }
    // Resuming continues from the saved step.
    let more = TrainOptions { steps: 32, resume: Some(opts.out.clone()), ..opts.clone() };
    let s2 = clevr::train(&more, &Device::Cpu, &mut |_| {}).unwrap();
    assert_eq!((s2.step, s2.losses.len()), (32, 2));
    assert_eq!(card::Card::read(&opts.out).unwrap().training.step, 32);
}

fn saved_tiny(dir: &std::path::Path) -> Trainee {
    let tr = Trainee::new(&Config::tiny(), 9, DType::F32, &Device::Cpu).unwrap();
    let ema = Ema::new(&tr.varmap, 0.99).unwrap();
    let opts = TrainOptions::tiny(dir.to_path_buf());
    let training = card::Training {
        step: 0,
        seed: 9,
        batch: opts.batch,
        lr: opts.lr,
        ema_decay: 0.99,
        warmup: 0,
        loss: None,
        tiny: true,
        device: "cpu".into(),
        wall_s: 0.0,
        images: 0,
        images_per_s: 0.0,
        machine: clevr::machine(),
        accuracy: Vec::new(),
    };
    let schedule = comp_models::card::ScheduleCard::cosine(Config::tiny().native_steps, 0.008);
    let card = card::Card::new("clevr-pos", card::KIND, schedule, Config::tiny(), training);
    clevr::save(dir, &tr.varmap, &ema, &card, DType::F32).unwrap();
    tr
}

#[test]
fn save_then_load_gives_identical_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let tr = saved_tiny(dir.path());
    let m = Clevr::load(dir.path(), &Device::Cpu).unwrap();
    let [x, t, xy, mask] = inputs(3, DType::F32);
    let a = tr.unet.forward(&x, &t, &xy, &mask).unwrap();
    let b = m.unet().forward(&x, &t, &xy, &mask).unwrap();
    assert_eq!(a.flatten_all().unwrap().to_vec1::<f32>().unwrap(), b.flatten_all().unwrap().to_vec1::<f32>().unwrap());
    assert_eq!(m.card().unwrap().arch, Config::tiny());
}

#[test]
fn composed_sample_through_the_executor() {
    let dir = tempfile::tempdir().unwrap();
    saved_tiny(dir.path());
    let model = Clevr::load(dir.path(), &Device::Cpu).unwrap();
    let text = "model clevr-pos\nsampler ddpm(steps: 6)\nsamples 2\nsample pair = pos(0.25, 0.5) AND pos(0.75, 0.5)\n";
    let plan = &comp_lab::compile_one(text, &comp_models::infos()).expect("compiles");
    assert_eq!(plan.conditions.len(), 3, "null and two positions");
    let out = execute(plan, &model, &Device::Cpu, &ExecOptions::default()).unwrap();
    assert_eq!(out.samples.dims(), &[2, 3, SIZE, SIZE]);
    assert!(out.samples.flatten_all().unwrap().to_vec1::<f32>().unwrap().iter().all(|v| v.is_finite()));
    assert_eq!(out.model_calls, 6, "one batched call per step");
    assert_eq!(out.rows_evaluated, 6 * 3 * 2);
    // Unknown concepts are refused, not guessed.
    let bad = comp_plan::Condition::concept(0, "ring", vec![]);
    let [x, t, ..] = inputs(1, DType::F32);
    let err = model.forward(&x, &t, &[&bad], false).unwrap_err().to_string();
    assert!(err.contains("knows `pos(x, y)` and `null`"), "{err}");
}

#[test]
fn missing_or_corrupt_weights_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    let err = Clevr::load(&missing, &Device::Cpu).err().unwrap();
    // The model says where it looked; the CLI adds how to train it (tests/clevr.rs).
    match &err {
        comp_models::LoadError::NoWeights(nw) => assert_eq!((nw.model.as_str(), nw.searched.as_slice()), ("clevr-pos", &[missing][..])),
        other => panic!("expected NoWeights, got {other}"),
    }
    let err = err.to_string();
    assert!(err.contains("model `clevr-pos` has no weights at"), "{err}");

    let d = dir.path().join("m");
    // Weights that are not the file the card describes (its size and hash): refused by the card,
    // before they are parsed.
    saved_tiny(&d);
    let card_text = std::fs::read_to_string(d.join(card::CARD)).unwrap();
    std::fs::write(d.join(card::WEIGHTS), b"not safetensors at all").unwrap();
    let err = Clevr::load(&d, &Device::Cpu).err().unwrap();
    assert!(matches!(&err, comp_models::LoadError::BadCard { .. }), "{err}");
    assert!(err.to_string().contains("is not the weights file its card"), "{err}");
    saved_tiny(&d);
    let bytes = std::fs::read(d.join(card::WEIGHTS)).unwrap();
    std::fs::write(d.join(card::WEIGHTS), &bytes[..bytes.len() / 2]).unwrap();
    let err = Clevr::load(&d, &Device::Cpu).err().unwrap().to_string();
    assert!(err.contains("is not the weights file its card"), "{err}");

    // An old card (no hash) beside an unreadable file: the file itself is refused.
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/clevr-pos/model.json");
    let mut old: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(shipped).unwrap()).unwrap();
    old["config"] = serde_json::from_str::<serde_json::Value>(&card_text).unwrap()["arch"].clone();
    std::fs::write(d.join(card::CARD), old.to_string()).unwrap();
    std::fs::write(d.join(card::WEIGHTS), b"not safetensors at all").unwrap();
    let err = Clevr::load(&d, &Device::Cpu).err().unwrap().to_string();
    assert!(err.contains("cannot read weights"), "{err}");

    saved_tiny(&d);
    std::fs::write(d.join(card::CARD), b"{ \"format\": 1, ").unwrap();
    let err = Clevr::load(&d, &Device::Cpu).err().unwrap();
    assert!(
        matches!(&err, comp_models::LoadError::BadCard { model, path, .. } if model == "clevr-pos" && *path == d.join(card::CARD)),
        "{err}"
    );
    let err = err.to_string();
    assert!(err.contains("not a valid model card"), "{err}");

    // A card whose network does not match the weights.
    saved_tiny(&d);
    let mut c = card::Card::read(&d).unwrap();
    c.arch.channels = 16;
    c.write(&d).unwrap();
    let err = Clevr::load(&d, &Device::Cpu).err().unwrap().to_string();
    assert!(err.contains("does not fit its card"), "{err}");
}

/// Sampling clips x̂₀ to the data range: with √ᾱ = 0.6 and σ = 0.8, x = 0.9 and ε̂ = −0.6 give
/// x̂₀ = (0.9 + 0.48)/0.6 = 2.3, clipped to 1, so ε becomes (0.9 − 0.6·1)/0.8 = 0.375; x = 0.3
/// and ε̂ = 0.15 give x̂₀ = (0.3 − 0.12)/0.6 = 0.3, inside, so ε stays 0.15.
#[test]
fn sampling_clips_predicted_clean_images() {
    let dev = Device::Cpu;
    let x = Tensor::new(&[0.9f32, 0.3], &dev).unwrap();
    let eps = Tensor::new(&[-0.6f32, 0.15], &dev).unwrap();
    let out = comp_runtime::executor::clip_x0(&x, &eps, 0.36, 0.8, (-1.0, 1.0)).unwrap().to_vec1::<f32>().unwrap();
    assert!((out[0] - 0.375).abs() < 1e-6 && (out[1] - 0.15).abs() < 1e-6, "{out:?}");
    // clevr-pos asks for it; the 2D models do not.
    let tr = Trainee::new(&Config::tiny(), 0, DType::F32, &dev).unwrap();
    let m = Clevr::from_unet(tr.unet, &Config::tiny()).unwrap();
    assert_eq!(m.x0_range(&comp_plan::Sampler::Ddpm { steps: 100 }), Some((-1.0, 1.0)));
}
