// The lab page: what it is, the GPU (or the CPU backend), the experiment on the left; the run
// controls, live curves, group inspector, runs and sharing on the right; the study's shipped results
// below; the engine check last.
import { Charts } from './Charts.tsx';
import { ConfigPanel } from './ConfigPanel.tsx';
import { EngineCheck } from './EngineCheck.tsx';
import { GpuStatus } from './GpuStatus.tsx';
import { Inspector } from './Inspector.tsx';
import { RunControls } from './RunControls.tsx';
import { RunsPanel } from './RunsPanel.tsx';
import { SharePanel } from './SharePanel.tsx';
import { SpectralPanel } from './SpectralPanel.tsx';
import { StudyPanel } from './StudyPanel.tsx';
import { SweepPanel } from './SweepPanel.tsx';

export function App() {
  return (
    <>
      <a className="skip-link" href="#controls-heading">Skip to the run controls</a>
      <header className="page-header">
        <h1>RLVR Lab</h1>
        <p className="tagline">Watch reinforcement learning fine-tune a language model, in your browser, on your GPU.</p>
      </header>
      <main>
        <section aria-labelledby="about-heading" className="card about">
          <h2 id="about-heading">What this is</h2>
          <p>
            A small transformer, trained here with <em>reinforcement learning from verifiable rewards</em>{' '}
            (RLVR): it answers tasks whose answers a program can check, and is rewarded when it is right.
            You pick how it learns — a parameter-efficient method such as LoRA, DoRA or VeRA, or full
            fine-tuning — and the RL recipe (GRPO, DAPO, Dr. GRPO), then watch reward and accuracy move.
            It reproduces, at a small scale, the study{' '}
            <a href="https://arxiv.org/abs/2512.23165">“Evaluating Parameter Efficient Methods for RLVR”</a>.
            Everything runs on your machine; nothing is sent anywhere.
          </p>
        </section>
        <GpuStatus />
        <div className="lab-grid">
          <ConfigPanel />
          <div className="lab-main">
            <RunControls />
            <Charts />
            <Inspector />
            <SpectralPanel />
            <RunsPanel />
            <SweepPanel />
            <SharePanel />
          </div>
        </div>
        <StudyPanel />
        <EngineCheck />
      </main>
    </>
  );
}
