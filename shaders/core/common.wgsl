// Library (no entry point) every 1-D kernel includes (`// #include core/common`): its workgroup size
// and the folded index. WG is set by GpuContext from context.ts's WG, which the host also uses to
// count workgroups; a 1-D dispatch of more than maxComputeWorkgroupsPerDimension workgroups is folded
// into (x, y), so a kernel finds its element at folded(gid, nwg) and bounds-checks the real size.
override WG: u32 = 256u;

fn folded(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}
