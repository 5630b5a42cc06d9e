// Target log-probability backward through z = scale · logits (lse[n] = logsumexp(z[n]) from the
// forward): dlogits (N,V) = scale · dlogp[n] · (onehot(t) − exp(z − lse[n])), 0 on masked rows (t < 0).
// The chain factor is applied last (d · scale), so scale = 1 gives the bits of the unscaled op.
// reads: dlogp (N), logits (N,V), lse (N), targets (N) i32; writes: dlogits (N,V) (=).
// One invocation per element, folded 1-D dispatch over N*V.
// #include core/common
@group(0) @binding(0) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(1) var<storage, read> dlogp: array<f32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read> targets: array<i32>;
struct Params { N: u32, V: u32, scale: f32 }
@group(0) @binding(5) var<uniform> P: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = folded(gid, nwg);
  if (i >= P.N * P.V) { return; }
  let n = i / P.V;
  let v = i - n * P.V;
  let tg = targets[n];
  var d = 0.0;
  if (tg >= 0) {
    let p = exp(logits[i] * P.scale - lse[n]);
    d = dlogp[n] * (select(0.0, 1.0, u32(tg) == v) - p) * P.scale;
  }
  dlogits[i] = d;
}
