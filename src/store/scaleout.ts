// The same experiment for people who outgrow one machine: a ready-to-edit Python script for HF
// TRL's GRPOTrainer with PEFT, and a verl config (its DAPO recipe's keys), carrying the method and
// hyperparameters. The base model and the dataset are theirs to fill in: the lab's random model
// and in-browser task generators do not exist there.
import { toHfPeftConfig } from '../peft/hf.ts';
import type { RLConfig } from '../rl/config.ts';
import type { ModelSource } from '../worker/protocol.ts';
import { encodeModel, toQuery } from './share.ts';

const py = (v: unknown): string =>
  v === null || v === undefined ? 'None' : typeof v === 'boolean' ? (v ? 'True' : 'False') : typeof v === 'string' ? JSON.stringify(v)
    : Array.isArray(v) ? `[${v.map(py).join(', ')}]` : typeof v === 'object' ? `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${py(x)}`).join(', ')}}` : String(v);

/** The PEFT config dict for training (metadata dropped, inference_mode off), or null for full fine-tuning. */
function peftDict(c: RLConfig): Record<string, unknown> | null {
  if (c.peft.method === 'full') return null;
  const d = { ...toHfPeftConfig(c.peft) };
  for (const k of ['auto_mapping', 'peft_version', 'base_model_name_or_path', 'revision']) delete d[k];
  d.inference_mode = false;
  return d;
}

function header(c: RLConfig, m: ModelSource, comment: string): string {
  return [
    `${comment} Exported by RLVR Lab: task ${c.task}, method ${c.peft.method}, loss ${c.lossType}, seed ${c.seed}.`,
    `${comment} Lab link settings: ?${toQuery(c, m) || '(defaults)'}`,
    `${comment} The lab trained a ${encodeModel(m)} model; set MODEL to a real checkpoint (the study used Qwen2.5 / DeepSeek-R1-Distill).`,
  ].join('\n');
}

export function trlScript(c: RLConfig, m: ModelSource): string {
  const completions = c.groupSize * c.promptsPerStep;
  const perDevice = completions % c.miniBatches === 0 ? completions / c.miniBatches : completions;
  const peft = peftDict(c);
  const notes: string[] = [];
  if (c.dynamicSampling) notes.push('# DAPO dynamic sampling (refill zero-variance groups) has no GRPOTrainer switch: zero-variance groups get advantage 0 instead.');
  if (c.peft.method === 'milora') notes.push('# MiLoRA is not in PEFT: this uses PiSSA-style init; for minor components initialise A, B from the smallest singular triplets yourself.');
  const optimizer = c.peft.method === 'lora_plus'
    ? `# LoRA+: model = get_peft_model(AutoModelForCausalLM.from_pretrained(MODEL), peft_config); optimizer = peft.optimizers.create_loraplus_optimizer(model, torch.optim.AdamW, lr=${c.lr}, loraplus_lr_ratio=${c.peft.loraPlusRatio}); pass model=model, optimizers=(optimizer, None) and no peft_config to GRPOTrainer.\n`
    : c.peft.method === 'lora_fa' ? '# LoRA-FA: freeze every lora_A after get_peft_model (p.requires_grad_(False) for names containing "lora_A").\n' : '';
  return `${header(c, m, '#')}
# pip install "trl>=0.23" peft transformers datasets
import re
import torch
from datasets import load_dataset
from peft import get_peft_config, get_peft_model
from transformers import AutoModelForCausalLM
from trl import GRPOConfig, GRPOTrainer
${c.overlongShaping ? 'from trl.rewards import get_soft_overlong_punishment\n' : ''}
MODEL = "Qwen/Qwen2.5-0.5B-Instruct"  # replace
# Rows with "prompt" and "answer"; the lab's verifier reads the text after "Answer: ".
dataset = load_dataset("json", data_files="train.jsonl", split="train")

def accuracy_reward(completions, answer, **kwargs):
    out = []
    for text, ref in zip(completions, answer):
        text = text if isinstance(text, str) else text[-1]["content"]
        m = re.search(r"Answer:\\s*(\\S+)", text)
        out.append(1.0 if m and m.group(1).strip() == str(ref).strip() else 0.0)
    return out

${notes.join('\n')}
peft_config = ${peft ? `get_peft_config(${py(peft)})` : 'None  # full fine-tuning'}
${optimizer}
args = GRPOConfig(
    output_dir="rlvr-lab-${c.peft.method}-${c.lossType}-s${c.seed}",
    max_steps=${c.steps},
    seed=${c.seed},
    learning_rate=${c.lr},
    lr_scheduler_type="${c.schedule === 'constant' ? 'constant_with_warmup' : c.schedule}",
    warmup_steps=${c.warmupSteps},
    weight_decay=${c.weightDecay},
    adam_beta1=${c.adamBeta1},
    adam_beta2=${c.adamBeta2},
    adam_epsilon=${c.adamEps},
    max_grad_norm=${c.maxGradNorm},
    num_generations=${c.groupSize},                 # G completions per prompt
    per_device_train_batch_size=${perDevice},      # ${completions} completions per rollout / ${c.miniBatches} mini-batches (one GPU)
    steps_per_generation=${c.miniBatches},          # optimizer steps per rollout
    num_iterations=${c.epochs},
    loss_type="${c.lossType}",
    scale_rewards="${c.scaleRewards}",
    epsilon=${c.epsLow},
    epsilon_high=${c.epsHigh},
    beta=${c.beta},
    temperature=${c.temperature},
    top_p=${c.topP},
    max_completion_length=${c.maxNewTokens},
    logging_steps=1,
)

reward_funcs = [accuracy_reward${c.overlongShaping ? `, get_soft_overlong_punishment(max_completion_len=${c.maxNewTokens}, soft_punish_cache=${c.overlongCache})` : ''}]
trainer = GRPOTrainer(model=MODEL, reward_funcs=reward_funcs, args=args, train_dataset=dataset, peft_config=peft_config)
trainer.train()
`;
}

const AGG: Record<RLConfig['lossType'], string> = { grpo: 'seq-mean-token-mean', bnpo: 'token-mean', dapo: 'token-mean', dr_grpo: 'seq-mean-token-sum-norm' };

export function verlYaml(c: RLConfig, m: ModelSource): string {
  const peft = peftDict(c);
  const loraOk = ['lora', 'lora_r1', 'lora_plus', 'lora_fa', 'rslora'].includes(c.peft.method);
  const miniPrompts = Math.max(1, Math.floor(c.promptsPerStep / c.miniBatches));
  return `${header(c, m, '#')}
# For verl's DAPO recipe (recipe/dapo); run with: python -m recipe.dapo.main_dapo --config-path . --config-name rlvr_lab_verl
${loraOk || c.peft.method === 'full' ? '' : `# verl trains LoRA only: ${c.peft.method} has no verl equivalent; this falls back to plain LoRA of the same rank.\n`}algorithm:
  adv_estimator: grpo
  norm_adv_by_std_in_grpo: ${c.scaleRewards !== 'none'}
  use_kl_in_reward: false
  filter_groups:
    enable: ${c.dynamicSampling}
    metric: acc
    max_num_gen_batches: ${c.maxResampleRounds + 1}
data:
  train_files: train.parquet   # replace
  val_files: test.parquet      # replace
  train_batch_size: ${c.promptsPerStep}
  gen_batch_size: ${c.promptsPerStep}
  max_response_length: ${c.maxNewTokens}
actor_rollout_ref:
  model:
    path: Qwen/Qwen2.5-0.5B-Instruct   # replace
${peft ? `    lora_rank: ${c.peft.r}
    lora_alpha: ${c.peft.alpha}
    target_modules: [${c.peft.targets.join(', ')}]
` : '    lora_rank: 0   # full fine-tuning\n'}  actor:
    optim:
      lr: ${c.lr}
      weight_decay: ${c.weightDecay}
      lr_warmup_steps: ${c.warmupSteps}
      warmup_style: ${c.schedule === 'cosine' ? 'cosine' : 'constant'}
    ppo_mini_batch_size: ${miniPrompts}   # prompts per optimizer step (${c.miniBatches} per rollout)
    ppo_epochs: ${c.epochs}
    clip_ratio_low: ${c.epsLow}
    clip_ratio_high: ${c.epsHigh}
    loss_agg_mode: ${AGG[c.lossType]}
    use_kl_loss: ${c.beta > 0}
    kl_loss_coef: ${c.beta}
    kl_loss_type: low_var_kl
    entropy_coeff: 0
    grad_clip: ${c.maxGradNorm}
  rollout:
    n: ${c.groupSize}
    temperature: ${c.temperature}
    top_p: ${c.topP}
reward_model:
  overlong_buffer:
    enable: ${c.overlongShaping}
    len: ${c.overlongCache}
    penalty_factor: 1.0
trainer:
  total_training_steps: ${c.steps}
  seed: ${c.seed}
  test_freq: ${c.evalEvery}
`;
}
