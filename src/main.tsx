// Entry point of the lab page (index.html): read a shared link's settings, bring stored runs back
// from IndexedDB, look for WebGPU (and pick the backend from what it finds, as the CLI's `--backend auto` does), render,
// and keep the address bar in step with the settings so a reload or a copied URL keeps them.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { loadFromLink, settledBackend, shareBlocked, shareLink, useConfig } from './store/config.ts';
import { loadRuns } from './store/runs.ts';
import { loadSweep } from './store/sweep.ts';
import { loseDevice } from './store/training.ts';
import { App } from './ui/App.tsx';
import './ui/app.css';

loadFromLink(window.location.search);

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <App />
  </StrictMode>,
);

void loadRuns().then(loadSweep);
void settledBackend(); // WebGPU on a GPU, the CPU backend on a software rasteriser or without WebGPU

let lastUrl = '';
useConfig.subscribe((s) => {
  if (shareBlocked(s)) return; // the address bar keeps the last valid experiment, never `lr=NaN`
  const url = shareLink(s);
  if (url !== lastUrl) {
    lastUrl = url;
    window.history.replaceState(null, '', url);
  }
});

// Test aid in development builds: simulate a GPU device loss in the worker.
if (import.meta.env.DEV) (window as unknown as { __rlvrLab: object }).__rlvrLab = { loseDevice };
