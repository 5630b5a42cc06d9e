#!/usr/bin/env python3
"""Check an RLVR Lab export against HF transformers + PEFT.

    python3 tools/check_export.py DIR [--base MODEL_DIR] [--tol 1e-4]

DIR is what `npm run export -- --checkpoint CKPT ... --out DIR` wrote: lab_logits.json (the lab's own
logits for two fixed prompts of the run's task, of the base model and of the trained model) and either
the adapter (DIR/adapter/, PEFT's save_pretrained layout) or, for full fine-tuning, the trained model
(DIR/model/). The check
  1. loads the base model folder with AutoModelForCausalLM (float32, eager attention) and compares its
     logits with the lab's base logits: the model itself maps one to one (names, tied embeddings,
     RoPE, norms), so an adapter mismatch below is the adapter's;
  2. loads the adapter with PeftModel.from_pretrained on that model (for full fine-tuning: loads
     DIR/model/ instead) and compares its logits with the lab's adapted logits.
It prints the max abs difference and the relative error of each, and exits 1 if either relative error
is above the tolerance (DEFAULT_TOL below, 1e-4; 0: both pass; 2: bad arguments, missing files or
missing libraries).

The base model folder is --base, else the one lab_logits.json names: DIR/base_model/ when the export was
made from a random --init model, or the --model path as it was given to the export (relative to the
folder the export ran in).

What each method loads as:
- LoRA, rsLoRA, DoRA, LoRA+, LoRA-FA, LoRA r1: a LoRA adapter (LoRA+ and LoRA-FA are optimizer choices;
  the trained adapter is plain LoRA).
- PiSSA, OLoRA: a LoRA adapter with init_lora_weights "pissa"/"olora". PEFT re-runs that init on the base
  weights when it loads the adapter (W_res = W - s*B0*A0, by its own float32 SVD / QR) and then loads the
  trained A and B, which is what the lab trained. PiSSA's float32 SVD lands further from the lab than
  plain LoRA (2e-5 relative on the llama fixture), so a PiSSA adapter is held to PISSA_TOL (1e-3).
- MiLoRA (not in PEFT): exported as the equivalent plain LoRA of rank 2r on the original weights.
- AdaLoRA, VeRA, IA3, MiSS, LN tuning: PEFT's own adapter types.
- Full fine-tuning: no adapter; DIR/model/ is loaded as a plain model.

Token ids are the lab's character tokenizer's (<pad> 0, <bos> 1, <eos> 2); no HF tokenizer is needed:
the ids are fed directly, with an attention mask of ones, as the lab runs them (left padding included).
"""
import argparse
import json
import math
import os
import sys

FORMAT = "rlvr-lab/lab-logits/1"

# Relative error = ||hf - lab|| / ||lab|| over all logits of a check. The lab computes in float32
# storage with float64 sums (its CPU reference kernels); HF/PEFT here run float32 throughout. For the
# lab's models (hidden 64..256, a few layers) float32 rounding of the sums leaves a relative error of
# about 1e-6 (the project's parity tests hold logits to 1e-5 against float64 references); PiSSA/OLoRA
# add PEFT's float32 SVD/QR of the base weights. 1e-4 is ten times the rounding a correct export can
# show and a hundred times smaller than any real mapping error (a wrong scale, a transposed tensor, a
# missing bias or adapter moves logits by 1e-2 relative or more).
DEFAULT_TOL = 1e-4
# PiSSA only: PEFT rebuilds the residual W - s*B0*A0 from its own float32 SVD when it loads the adapter,
# and the top-r singular subspace of a float32 SVD moves by about eps/gap (gap: the relative distance
# of the r-th singular value from the next), which for random-like weights is not small. Measured on
# the project's llama fixture: 2e-5. 1e-3 is still ten times below a wrong scale or a missing adapter.
PISSA_TOL = 1e-3


def fail(msg, code=2):
    print(f"check_export: {msg}", file=sys.stderr)
    sys.exit(code)


def read_record(out_dir):
    path = os.path.join(out_dir, "lab_logits.json")
    if not os.path.isfile(path):
        fail(f"{path} not found: run `npm run export -- --checkpoint CKPT ... --out {out_dir}` first "
             "(only an export from a checkpoint writes it)")
    with open(path, encoding="utf-8") as fh:
        rec = json.load(fh)
    if rec.get("format") != FORMAT:
        fail(f"{path}: format {rec.get('format')!r}, this script reads {FORMAT!r}")
    b, t, v = rec["shape"]
    for key in ("base_logits", "adapted_logits"):
        if len(rec[key]) != b * t * v:
            fail(f"{path}: {key} has {len(rec[key])} values, shape {rec['shape']} needs {b * t * v}")
    return rec


def base_folder(args, rec):
    if args.base:
        return args.base
    if rec.get("base_model_dir"):
        return os.path.join(args.dir, rec["base_model_dir"])
    if rec.get("base_model"):
        return rec["base_model"]
    fail("no base model folder: pass --base MODEL_DIR")


def compare(name, got, want):
    """Max abs difference and ||got - want|| / ||want|| of two flat float lists."""
    diff2 = want2 = 0.0
    max_abs = 0.0
    for g, w in zip(got, want):
        d = g - w
        diff2 += d * d
        want2 += w * w
        max_abs = max(max_abs, abs(d))
    if not all(math.isfinite(x) for x in got):
        return name, float("inf"), float("inf")
    return name, max_abs, math.sqrt(diff2) / max(math.sqrt(want2), 1e-30)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Compare an RLVR Lab export's logits with HF transformers + PEFT.")
    ap.add_argument("dir", help="the export folder (lab_logits.json, adapter/ or model/)")
    ap.add_argument("--base", help="the base model folder (config.json + model.safetensors); default: the one lab_logits.json names")
    ap.add_argument("--tol", type=float, default=None,
                    help=f"relative error allowed per check [{DEFAULT_TOL}; {PISSA_TOL} for a PiSSA adapter, see PISSA_TOL]")
    args = ap.parse_args(argv)

    rec = read_record(args.dir)
    base_dir = base_folder(args, rec)
    for f in ("config.json", "model.safetensors"):
        if not os.path.isfile(os.path.join(base_dir, f)):
            fail(f"{os.path.join(base_dir, f)} not found (the base model folder the adapter was trained on; pass --base MODEL_DIR)")
    method = rec["method"]
    if method == "full":
        trained_dir = os.path.join(args.dir, rec.get("model_dir") or "model")
    else:
        trained_dir = os.path.join(args.dir, rec.get("adapter_dir") or "adapter")
    if not os.path.isdir(trained_dir):
        fail(f"{trained_dir} not found (written by the export next to lab_logits.json)")

    try:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM
        import peft
        from peft import PeftModel
    except ImportError as e:
        fail(f"this check needs torch, transformers and peft ({e}); install them with: pip install torch transformers peft")

    print(f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}")
    print(f"method {method} (lab step {rec.get('step')}), task {rec.get('task')}, lab logits from {rec.get('backend')}")
    torch.manual_seed(0)
    ver = tuple(int(x) for x in transformers.__version__.split(".")[:2] if x.isdigit())
    dtype_kw = "dtype" if ver >= (4, 56) else "torch_dtype"  # renamed in transformers 4.56

    def load(folder):
        m = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager", **{dtype_kw: torch.float32})
        return m.to(torch.float32).eval()

    ids = torch.tensor(rec["input_ids"], dtype=torch.long)
    mask = torch.ones_like(ids)

    def logits(m):
        with torch.no_grad():
            out = m(input_ids=ids, attention_mask=mask).logits
        if list(out.shape) != list(rec["shape"]):
            fail(f"logits of shape {list(out.shape)}, the lab's are {rec['shape']} (is {base_dir} the model the export used?)")
        return out.to(torch.float64).reshape(-1).tolist()

    results = []
    model = load(base_dir)
    results.append(compare(f"base model ({base_dir})", logits(model), rec["base_logits"]))
    if method == "full":
        trained = load(trained_dir)
        results.append(compare(f"full fine-tuning ({trained_dir}, AutoModelForCausalLM)", logits(trained), rec["adapted_logits"]))
    else:
        with open(os.path.join(trained_dir, "adapter_config.json"), encoding="utf-8") as fh:
            peft_type = json.load(fh).get("peft_type")
        trained = PeftModel.from_pretrained(model, trained_dir).eval()
        results.append(compare(f"{method} adapter ({trained_dir}, PeftModel.from_pretrained, {peft_type})", logits(trained), rec["adapted_logits"]))

    base_tol = DEFAULT_TOL if args.tol is None else args.tol
    trained_tol = (PISSA_TOL if method == "pissa" else DEFAULT_TOL) if args.tol is None else args.tol
    failed = []
    for (name, max_abs, rel), tol in zip(results, (base_tol, trained_tol)):
        passed = rel <= tol
        if not passed:
            failed.append(name)
        print(f"{'ok  ' if passed else 'FAIL'} {name}: max |diff| {max_abs:.3g}, relative error {rel:.3g} (tolerance {tol:g})")
    if failed:
        if failed[0].startswith("base model"):
            print("the base model itself does not match: wrong --base folder, or a model the lab maps differently", file=sys.stderr)
        else:
            print(f"the {method} export does not reproduce the lab's model in PEFT", file=sys.stderr)
        return 1
    print(f"{method}: PEFT reproduces the lab's logits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
