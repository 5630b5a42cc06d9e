// The lab page, first shell: what the lab is, what GPU it found, and an engine self-check.
import { EngineCheck } from './EngineCheck.tsx';
import { GpuStatus } from './GpuStatus.tsx';

export function App() {
  return (
    <>
      <header className="page-header">
        <h1>RLVR Lab</h1>
        <p className="tagline">Watch reinforcement learning fine-tune a language model, in your browser, on your GPU.</p>
      </header>
      <main>
        <section aria-labelledby="about-heading" className="card">
          <h2 id="about-heading">What this is</h2>
          <p>
            A small transformer, trained here with <em>reinforcement learning from verifiable rewards</em>{' '}
            (RLVR): it answers tasks whose answers a program can check, and is rewarded when it is right.
            You pick how it learns — a parameter-efficient method such as LoRA, DoRA or VeRA, or full
            fine-tuning — and the RL recipe (GRPO, DAPO, Dr. GRPO), then watch reward and accuracy move.
            It reproduces, at a small scale, the study{' '}
            <a href="https://arxiv.org/abs/2512.23165">“Evaluating Parameter Efficient Methods for RLVR”</a>.
            Everything runs on your machine through WebGPU; nothing is sent anywhere.
          </p>
          <p className="detail">This is an early build: the engine works; training, methods and charts come next.</p>
        </section>
        <GpuStatus />
        <EngineCheck />
      </main>
    </>
  );
}
