// What the page found when it looked for WebGPU: the adapter, or a plain explanation of what is
// missing and what the visitor can do about it.
import { applyGpuCheck, setBackend, useConfig } from '../store/config.ts';
import { detectGpu, useLab } from '../store/lab.ts';

function NoWebGpuHelp() {
  const insecure = typeof window !== 'undefined' && !window.isSecureContext;
  return (
    <>
      <p><strong>This browser does not offer WebGPU</strong>, which the lab needs to run the model on your GPU.</p>
      <ul>
        {insecure && (
          <li>
            This page is not a secure context: WebGPU only exists on <code>https://</code> pages and on
            {' '}<code>http://localhost</code> / <code>http://127.0.0.1</code>. Open it from one of those.
          </li>
        )}
        <li>Use a recent desktop Chrome or Edge (version 113 or later); Safari 26 and Firefox 141 on Windows also have WebGPU.</li>
        <li>
          On Linux, Chrome keeps WebGPU off by default: enable <code>chrome://flags/#enable-unsafe-webgpu</code>, or start it
          with <code>--enable-unsafe-webgpu --enable-features=Vulkan</code>.
        </li>
        <li>Or train on the <strong>CPU backend</strong> below: it works in any browser, and the lab’s small models train well on it.</li>
      </ul>
    </>
  );
}

function NoAdapterHelp() {
  return (
    <>
      <p><strong>WebGPU is there, but the browser found no GPU adapter to use.</strong> Usually the GPU or its driver is blocklisted, or hardware acceleration is turned off.</p>
      <ul>
        <li>In Chrome or Edge, open <code>chrome://gpu</code> and look at the WebGPU line; turn on “Use graphics acceleration when available” in the browser settings.</li>
        <li>Update your GPU driver, then restart the browser.</li>
        <li>On Linux, start Chrome with <code>--enable-unsafe-webgpu --enable-features=Vulkan</code>.</li>
      </ul>
    </>
  );
}

/** WebGPU or the CPU backend, picked as the CLI's `--backend auto` does (the CPU backend when the
 * only adapter is a software rasteriser or there is no WebGPU), with the reason; the visitor's
 * choice is kept on reload and in the link. */
function BackendChoice() {
  const backend = useConfig((s) => s.backend);
  const source = useConfig((s) => s.backendSource);
  const reason = useConfig((s) => s.backendReason);
  const ready = useLab((s) => s.gpu.status === 'ready');
  const checking = useLab((s) => s.gpu.status === 'checking');
  const software = useLab((s) => s.gpu.status === 'ready' && s.gpu.software);
  return (
    <fieldset className="backend-choice" data-testid="backend-choice" data-backend={backend} data-source={source}>
      <legend>Train on</legend>
      <label>
        <input type="radio" name="backend" value="webgpu" checked={backend === 'webgpu'} disabled={!ready && !checking}
          onChange={() => setBackend('webgpu')} /> WebGPU {software ? '(a software rasteriser here, not a GPU: slow)' : '(your GPU)'}
      </label>
      <label>
        <input type="radio" name="backend" value="cpu" checked={backend === 'cpu'} onChange={() => setBackend('cpu')} /> CPU backend (no GPU needed; the fast choice without a real GPU)
      </label>
      {reason && <p className="detail" data-testid="backend-reason">{reason}</p>}
    </fieldset>
  );
}

export function GpuStatus() {
  const gpu = useLab((s) => s.gpu);
  return (
    <section aria-labelledby="gpu-heading" className="card">
      <h2 id="gpu-heading">Your GPU</h2>
      <div role="status" aria-live="polite" data-testid="gpu-status" data-state={gpu.status}
        data-kind={gpu.status === 'unavailable' ? gpu.kind : undefined}>
        {gpu.status === 'checking' && <p>Looking for a WebGPU adapter…</p>}
        {gpu.status === 'ready' && (
          <>
            <p><span className="badge ok">WebGPU ready</span></p>
            <dl className="facts">
              <dt>Adapter</dt>
              <dd data-testid="adapter">{gpu.description}</dd>
            </dl>
          </>
        )}
        {gpu.status === 'unavailable' && (
          <div className="notice">
            {gpu.kind === 'no-webgpu' && <NoWebGpuHelp />}
            {gpu.kind === 'no-adapter' && <NoAdapterHelp />}
            {gpu.kind !== 'no-webgpu' && gpu.kind !== 'no-adapter' && (
              <p><strong>The GPU could not be used.</strong> Reload the page to try again; if it keeps happening, restart the browser.</p>
            )}
            {/* Without navigator.gpu there is nothing to retry or detail: the advice above is all. */}
            {gpu.kind !== 'no-webgpu' && (
              <>
                <p className="detail">Details: {gpu.message}</p>
                <button type="button" onClick={() => void detectGpu().then(() => applyGpuCheck(useLab.getState().gpu))}>Try again</button>
              </>
            )}
          </div>
        )}
      </div>
      <BackendChoice />
    </section>
  );
}
