// Download one model file as a stream, reporting progress, and check what arrived: the HTTP status
// (a dev server answers a missing file with its index.html, so an HTML page is "not found" too),
// the size (Content-Length, or the size the catalogue lists), and the SHA-256 when it is known.
// Every error names the file and says what is wrong with it.
import type { ModelExpect } from './protocol.ts';

export interface Progress {
  received: number;
  /** The size to expect, or null when neither the server nor the catalogue says. */
  total: number | null;
}

export interface DownloadOptions {
  /** What the catalogue says the file is. */
  expect?: ModelExpect;
  onProgress?: (p: Progress) => void;
  fetch?: typeof fetch;
}

/** Megabytes for messages: "1.23 MB" (decimal, like the progress bar). */
export function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1)} MB`;
}

const reason = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Fetch `url`, failing with a message that names it when it is missing or unreachable. */
export async function fetchFile(url: string, fetchFn: typeof fetch = fetch): Promise<Response> {
  let res: Response;
  try {
    // Revalidate rather than trust the HTTP cache: a retry must never get back a bad copy.
    res = await fetchFn(url, { cache: 'no-cache' });
  } catch (e) {
    throw new Error(`${url} could not be downloaded: the network request failed (${reason(e)})`);
  }
  if (res.status === 404) throw new Error(`${url} was not found (HTTP 404)`);
  if (!res.ok) throw new Error(`${url} could not be downloaded: the server answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
  if ((res.headers.get('content-type') ?? '').includes('text/html')) {
    throw new Error(`${url} was not found (the server sent a web page instead, as a dev server does for a missing file)`);
  }
  return res;
}

/** The declared size of the body, when the header gives the size of what the stream yields. */
function contentLength(res: Response): number | null {
  const enc = res.headers.get('content-encoding');
  if (enc && enc !== 'identity') return null; // the header counts compressed bytes; the stream yields decoded ones
  const n = Number(res.headers.get('content-length') ?? NaN);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

/** The whole file, checked against `expect` and the server's Content-Length. */
export async function download(url: string, opts: DownloadOptions = {}): Promise<Uint8Array> {
  const { expect = {}, onProgress } = opts;
  const res = await fetchFile(url, opts.fetch);
  const declared = contentLength(res);
  if (expect.bytes !== undefined && declared !== null && declared !== expect.bytes) {
    throw new Error(`${url} has the wrong size: the server sends ${declared} bytes, the model catalogue lists ${expect.bytes}`);
  }
  const total = expect.bytes ?? declared;
  const chunks: Uint8Array[] = [];
  let received = 0;
  onProgress?.({ received, total });
  if (!res.body) throw new Error(`${url} could not be downloaded: the response has no body`);
  const reader = res.body.getReader();
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (e) {
      throw new Error(`${url} could not be downloaded: the connection failed after ${mb(received)}${total !== null ? ` of ${mb(total)}` : ''} (${reason(e)})`);
    }
    if (chunk.done) break;
    chunks.push(chunk.value);
    received += chunk.value.byteLength;
    if (total !== null && received > total) {
      await reader.cancel();
      throw new Error(`${url} is larger than expected: more than ${total} bytes arrived`);
    }
    onProgress?.({ received, total });
  }
  if (total !== null && received < total) {
    throw new Error(`${url} is truncated: ${received} of ${total} bytes arrived (${mb(received)} of ${mb(total)})`);
  }
  const bytes = new Uint8Array(received);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  if (expect.sha256 !== undefined) {
    const got = await sha256Hex(bytes);
    if (got !== expect.sha256) {
      throw new Error(`${url} is corrupt: its SHA-256 is ${got.slice(0, 12)}…, the model catalogue lists ${expect.sha256.slice(0, 12)}…`);
    }
  }
  return bytes;
}
