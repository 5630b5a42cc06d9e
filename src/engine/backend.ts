// The op set the model is written against. Two implementations: the CPU backend (built from the
// *.ref.ts references, float32 storage) and the WebGPU backend (one WGSL kernel family per op).
//
// Glossary: B batch, T time, C channels, V vocab, NH query heads, NKV key/value heads, HS head
// size, N = B*T rows, OC output channels. Everything is row-major; linear weights use PyTorch's
// (out, in) layout, so a linear layer is out = inp · wᵀ + bias.
//
// Gradient convention (as llm.c): parameter gradients accumulate (+=), activation gradients
// assign (=) unless the op says `accumulate`.

export type DType = 'f32' | 'i32';

/** An opaque handle to backend storage of `size` elements. */
export interface Tensor {
  readonly label: string;
  readonly size: number;
  readonly dtype: DType;
}

export interface AdamWParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step, for bias correction. */
  step: number;
  /** Clip by global norm: scale = min(1, maxNorm / (‖g‖ + 1e-6)); ‖g‖² is the sum of the `normSlots`
   * first entries of `sqnorm` (written by `sumSquares`). maxNorm <= 0 disables clipping. */
  maxNorm: number;
}

/** One tensor of a multi-tensor AdamW update (`Backend.adamw`): its state and its own learning rate
 * and weight decay (optimizer groups: LoRA+'s B/A ratio, no decay on biases and norms). */
export interface AdamWTensor {
  param: Tensor;
  grad: Tensor;
  m: Tensor;
  v: Tensor;
  lr: number;
  weightDecay: number;
}

/** The AdamW settings every tensor of one update shares. */
export type AdamWShared = Omit<AdamWParams, 'lr' | 'weightDecay'>;

/** Where a decoding op also writes each row's chosen token: tokens[n·stride + offset], a column of a
 * (rows, stride) token matrix (the generated sequence), beside the op's contiguous output (the next
 * step's input). */
export interface TokenColumn {
  tokens: Tensor;
  offset: number;
  stride: number;
  /** CPU backends only: op row n is row rows[n] of the sequence batch (a decoder that dropped its
   * finished rows). Its token goes to tokens[rows[n]·stride + offset], a sampler's log-prob and
   * entropy to [rows[n]·stride' + offset'], and its draw uses row rows[n]'s counter, so a row's
   * tokens do not depend on which other rows are still running. */
  rows?: Int32Array;
}

export interface Backend {
  readonly name: 'cpu' | 'webgpu';

  // --- storage -------------------------------------------------------------------------------
  alloc(label: string, size: number, dtype?: DType): Tensor;
  free(t: Tensor): void;
  /** Writes data at element `offset` (default 0); a partial upload is fine, overflow or a dtype mismatch throws. */
  upload(t: Tensor, data: Float32Array | Int32Array, offset?: number): void;
  /** A copy of an f32 tensor (readInt for i32; the wrong one rejects). */
  read(t: Tensor): Promise<Float32Array>;
  readInt(t: Tensor): Promise<Int32Array>;
  zero(t: Tensor): void;
  /** Zero every tensor listed; tensors packed next to each other are cleared together (one clear
   * for a whole packed gradient set on the GPU). */
  zeroAll(ts: Tensor[]): void;
  /** dst[dstOff + i] = src[srcOff + i] for i < n. */
  copy(dst: Tensor, src: Tensor, n: number, dstOff?: number, srcOff?: number): void;
  /** Move the tensors' storage into one shared allocation (contents kept; the handles stay valid and
   * are still freed one by one), so a multi-tensor op (sumSquares, adamw) covers them all in one
   * dispatch. Only a layout: no op's result changes. Tensors one dispatch writes and another one
   * reads (a parameter and its gradient) must not be packed together (WebGPU cannot bind one
   * buffer as writable and read-only storage at once): pack each role on its own. */
  pack(label: string, tensors: Tensor[]): void;
  /** Wait until all queued work is done (GPU: submit + onSubmittedWorkDone). */
  sync(): Promise<void>;

  // --- ops ------------------------------------------------------------------------------------
  /** out (N,C) = wte[ids[n]] ; ids (N) i32. */
  embeddingForward(out: Tensor, ids: Tensor, wte: Tensor, N: number, C: number): void;
  /** dwte (V,C) += Σ_{n: ids[n]=v} dout[n]. Deterministic: one invocation per (v, c). */
  embeddingBackward(dwte: Tensor, dout: Tensor, ids: Tensor, N: number, C: number, V: number): void;

  /** out = inp · rstd · w, rstd (N) = 1/sqrt(mean(inp²) + eps). */
  rmsnormForward(out: Tensor, rstd: Tensor, inp: Tensor, w: Tensor, N: number, C: number, eps: number): void;
  /** A residual add and the norm that reads its result: sum = x + d (the stream after a block), out = rmsnorm(sum)
   * as rmsnormForward (rstd likewise). sum may not alias x or d. */
  addRmsnormForward(sum: Tensor, out: Tensor, rstd: Tensor, x: Tensor, d: Tensor, w: Tensor, N: number, C: number, eps: number): void;
  /** dinp (N,C) += (dinp accumulates: it is the residual stream gradient). */
  rmsnormBackwardInput(dinp: Tensor, dout: Tensor, inp: Tensor, w: Tensor, rstd: Tensor, N: number, C: number): void;
  /** dw (C) += Σ_n dout · inp · rstd. */
  rmsnormBackwardWeight(dw: Tensor, dout: Tensor, inp: Tensor, rstd: Tensor, N: number, C: number): void;

  /** out (N,OC) = (or += when accumulate) scale · inp (N,C) · wᵀ (w is (OC,C)) + bias (OC) if given.
   * scale defaults to 1 and accumulate to false; the bias is not scaled. */
  matmulForward(out: Tensor, inp: Tensor, w: Tensor, bias: Tensor | null, N: number, C: number, OC: number, accumulate?: boolean, scale?: number): void;
  /** dinp (N,C) = (or += when accumulate) scale · dout (N,OC) · w (OC,C). */
  matmulBackwardInput(dinp: Tensor, dout: Tensor, w: Tensor, N: number, C: number, OC: number, accumulate: boolean, scale?: number): void;
  /** dw (OC,C) += scale · doutᵀ · inp. */
  matmulBackwardWeight(dw: Tensor, dout: Tensor, inp: Tensor, N: number, C: number, OC: number, scale?: number): void;
  /** dbias (OC) += Σ_n dout[n]. */
  biasBackward(dbias: Tensor, dout: Tensor, N: number, OC: number): void;

  /** Rotary embedding of an attention layer's queries q (B,T,NH,HS) → qOut and keys k (B,T,NKV,HS) → kOut
   * (one op for both), HF rotate_half convention, at positions pos0 + t: for each head vector x and
   * i < HS/2, θ = pos · base^(−2i/HS): out[i] = x[i]cosθ − x[i+HS/2]sinθ, out[i+HS/2] = x[i+HS/2]cosθ + x[i]sinθ.
   * `inverse` rotates by −θ, which is exactly the backward pass. Outputs may not alias inputs. */
  rope(qOut: Tensor, q: Tensor, kOut: Tensor, k: Tensor, B: number, T: number, NH: number, NKV: number, HS: number,
    base: number, pos0: number, inverse: boolean): void;

  /** Causal grouped-query attention. q (B,T,NH,HS), k/v (B,T,NKV,HS), out (B,T,NH,HS),
   * att (B,NH,T,T) the softmax probabilities (kept for backward; entries above the diagonal are 0). */
  attentionForward(out: Tensor, att: Tensor, q: Tensor, k: Tensor, v: Tensor, B: number, T: number, NH: number, NKV: number, HS: number): void;
  /** Writes (=) dq, dk, dv. scratch is (B,NH,T,T): it receives d(loss)/d(scaled scores), the softmax
   * input q·kᵀ/√HS (0 above the diagonal). */
  attentionBackward(dq: Tensor, dk: Tensor, dv: Tensor, scratch: Tensor, dout: Tensor, q: Tensor, k: Tensor, v: Tensor, att: Tensor,
    B: number, T: number, NH: number, NKV: number, HS: number): void;

  /** Incremental attention against a KV cache. q (B,Tq,NH,HS) holds queries for positions
   * pos0 .. pos0+Tq−1; kcache/vcache (B,Tmax,NKV,HS) hold keys/values for positions 0 .. pos0+Tq−1;
   * each query attends causally to cache positions ≤ its own. out (B,Tq,NH,HS). */
  attentionDecode(out: Tensor, q: Tensor, kcache: Tensor, vcache: Tensor, B: number, Tq: number, pos0: number, Tmax: number,
    NH: number, NKV: number, HS: number): void;
  /** cache (B,Tmax,W)[b, pos0+t, :] = x (B,Tq,W)[b, t, :]. */
  kvWrite(cache: Tensor, x: Tensor, B: number, Tq: number, pos0: number, Tmax: number, W: number): void;

  /** out = silu(gate) · up, elementwise over n entries. */
  swigluForward(out: Tensor, gate: Tensor, up: Tensor, n: number): void;
  /** dgate = dout · up · silu'(gate), dup = dout · silu(gate) (both =). */
  swigluBackward(dgate: Tensor, dup: Tensor, dout: Tensor, gate: Tensor, up: Tensor, n: number): void;

  /** out = a + b over n entries (out may alias a). */
  add(out: Tensor, a: Tensor, b: Tensor, n: number): void;

  /** Per-row log-probability of the target: logp (N) = logits[n, t] − logsumexp(logits[n]), lse (N)
   * kept for backward (computed on every row: it does not depend on the target). targets (N) i32;
   * a negative target marks a masked row: logp = 0. With `scale` (default 1; 1/temperature when
   * sampling was tempered) the logits are scaled first: the log-prob of the tempered distribution
   * the sampler drew from. */
  logprobForward(logp: Tensor, lse: Tensor, logits: Tensor, targets: Tensor, N: number, V: number, scale?: number): void;
  /** dlogits (N,V) = scale · dlogp[n] · (onehot(t) − softmax(scale · logits[n])) (=); 0 on masked rows. */
  logprobBackward(dlogits: Tensor, dlogp: Tensor, logits: Tensor, lse: Tensor, targets: Tensor, N: number, V: number, scale?: number): void;
  /** argmax (N) i32 over the last dim of logits (N,V); ties go to the lowest index. Also written to
   * `column` (tokens[n·stride + offset]). */
  argmax(out: Tensor, logits: Tensor, N: number, V: number, column: TokenColumn): void;
  /**
   * Draw one token per row b of logits (B,V) from p = softmax(logits[b] / temperature) restricted to
   * top-p: keep every token with p_v ≥ τ, where τ is the largest threshold whose kept mass is ≥ topP
   * (topP = 1 keeps all). With the uniform u = (pcg(b ^ pcg(seed)) >>> 8) / 2^24 (pcg as in dropout),
   * pick the first v in index order whose cumulative kept mass exceeds u · (kept mass).
   * ids (B) i32 and `column` (tokens[b·column.stride + column.offset]) get the token;
   * logp[b·stride + offset] its log-prob under the full tempered p (what the policy loss needs),
   * entropy[b·stride + offset] the entropy of the full tempered p.
   */
  sample(ids: Tensor, logp: Tensor, entropy: Tensor, logits: Tensor, B: number, V: number, temperature: number, topP: number,
    seed: number, offset: number, stride: number, column: TokenColumn): void;

  // --- low-rank fusion (optional: a backend without them runs two matmuls) -----------------------
  /** out (N,OC) = (or += when accumulate) inp·wᵀ + bias + scale2 · xa (N,R) · bᵀ, b (OC,R): a linear layer and
   * its adapter's up-projection in one pass (matmulForward, then matmulForward(out, xa, b, …, true, scale2)). */
  linearLowRank?(out: Tensor, inp: Tensor, w: Tensor, bias: Tensor | null, xa: Tensor, b: Tensor,
    N: number, C: number, OC: number, R: number, scale2: number, accumulate: boolean): void;
  /** dxa (N,R) = scale2 · dout · b, b (OC,R), and dinp (N,C) = (or += when accumulate) dout·w + dxa · a, a (R,C): a low-rank
   * adapter's gradient at its rank and the layer's input gradient in one pass (matmulBackwardInput three times). */
  linearLowRankBackwardInput?(dinp: Tensor, dxa: Tensor, dout: Tensor, w: Tensor, b: Tensor, a: Tensor,
    N: number, C: number, OC: number, R: number, scale2: number, accumulate: boolean): void;

  // --- decode fusion (optional: a backend without them runs the separate ops above) ----------------
  /** out (N,OC) = rmsnorm(x)·wᵀ with rmsnorm(x) = x · rstd · lnw as rmsnormForward; or, when w2 is given,
   * silu(rmsnorm(x)·wᵀ) ⊙ (rmsnorm(x)·w2ᵀ) (a SwiGLU MLP's gate and up projections). No bias. */
  normMatmul?(out: Tensor, x: Tensor, lnw: Tensor, w: Tensor, w2: Tensor | null, N: number, C: number, OC: number, eps: number): void;
  /** The attention block's input side for rows n = b·Tq + t at positions pos0 + t: ln = rmsnorm(x) (lnw, eps);
   * [q|k|v] = ln·wᵀ + bias with w = [Wq; Wk; Wv] ((NH + 2·NKV)·HS, C) and bias likewise (or none);
   * q (N, NH·HS) = rope(q); kcache/vcache (B,Tmax,NKV·HS)[b, pos0 + t] = rope(k) / v (as kvWrite). */
  qkvRope?(q: Tensor, kcache: Tensor, vcache: Tensor, x: Tensor, lnw: Tensor, w: Tensor, bias: Tensor | null,
    B: number, Tq: number, pos0: number, Tmax: number, C: number, NH: number, NKV: number, HS: number, eps: number, base: number): void;

  // --- PEFT building blocks (low-rank adapters use the matmul ops above with a scale) -------------
  /** out (N,OC) = (or += when accumulate) inp (N,OC) ⊙ s (OC) per column, + bias (OC) if given.
   * out may not alias inp. (IA³, DoRA's magnitude, VeRA's λ vectors, AdaLoRA's E.) */
  scaleCols(out: Tensor, inp: Tensor, s: Tensor, bias: Tensor | null, N: number, OC: number, accumulate: boolean): void;
  /** ds (OC) += Σ_n dout[n,o] · inp[n,o] (the gradient of scaleCols with respect to s). */
  scaleColsBackward(ds: Tensor, dout: Tensor, inp: Tensor, N: number, OC: number): void;
  /** out (N) = ‖x[n,:]‖₂ over C columns (DoRA's weight-row norm). */
  rowNorm(out: Tensor, x: Tensor, N: number, C: number): void;
  /** out = (or += when accumulate) a / b, elementwise over n entries. */
  div(out: Tensor, a: Tensor, b: Tensor, n: number, accumulate: boolean): void;
  /** MiSS: xbar (N,R)[n,j] = Σ_k x[n, k·R + j] over the ⌈C/R⌉ chunks (the last zero-padded). */
  chunkSum(xbar: Tensor, x: Tensor, N: number, C: number, R: number): void;
  /** dx (N,C)[n,c] = (or += when accumulate) dxbar[n, c mod R]. */
  chunkSumBackward(dx: Tensor, dxbar: Tensor, N: number, C: number, R: number, accumulate: boolean): void;
  /** Inverted dropout with a counter-based hash: out[i] = inp[i] / (1−p) if keep(seed, i) else 0.
   * keep() depends only on (seed, i), so the backward pass is the same call on the gradient. */
  dropout(out: Tensor, inp: Tensor, n: number, p: number, seed: number): void;

  /** sqnorm[i] = Σ xs[i]² over each tensor's entries (deterministic reductions; other slots untouched).
   * One dispatch per packed group of xs (see pack). */
  sumSquares(sqnorm: Tensor, xs: Tensor[]): void;
  /** AdamW as PyTorch on each tensor (over param.size entries) with its lr and weightDecay:
   * g = grad·clipScale; p −= lr·wd·p; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
   * p −= lr · (m/(1−β1^step)) / (√(v/(1−β2^step)) + eps). m, v are state (float32). One dispatch
   * per group of tensors whose params, grads, m and v are each packed together (see pack). */
  adamw(tensors: AdamWTensor[], sqnorm: Tensor, normSlots: number, p: AdamWShared): void;
}
