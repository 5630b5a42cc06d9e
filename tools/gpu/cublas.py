"""cuBLAS fp32 (TF32 off, as WGSL has no TF32) through PyTorch at every matmul shape of a bench
report: out (M, N) = a (M, K) · bᵀ, the bench's own convention. Prints one JSON object:
{"device": ..., "torch": ..., "rows": [{"label", "M", "K", "N", "ms", "gflops"}]}.
Usage: python3 tools/gpu/cublas.py bench-dawn.json"""
import json, statistics, sys
import torch

torch.backends.cuda.matmul.allow_tf32 = False
report = json.load(open(sys.argv[1]))
rows = []
for r in report["matmul"]:
    M, K, N = r["M"], r["K"], r["N"]
    a = torch.randn(M, K, device="cuda")
    b = torch.randn(N, K, device="cuda")
    for _ in range(3):
        torch.matmul(a, b.T)
    iters = 20
    times = []
    for _ in range(7):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(iters):
            torch.matmul(a, b.T)
        e.record()
        torch.cuda.synchronize()
        times.append(s.elapsed_time(e) / iters)
    ms = statistics.median(times)
    rows.append(dict(label=r["label"], M=M, K=K, N=N, ms=ms, gflops=2 * M * K * N / ms / 1e6))
print(json.dumps(dict(device=torch.cuda.get_device_name(), torch=torch.__version__, tf32=False, rows=rows)))
