// Downloads models with node-llama-cpp's downloader (hf: URIs or plain URLs). A cancelled download
// keeps its partial file, so starting the same URI again resumes where it stopped (HTTP Range).
import { randomUUID } from 'node:crypto';
import { createModelDownloader, type ModelDownloader } from 'node-llama-cpp';
import type { DownloadState } from '../../src-common/contract.js';
import { ModelError } from './modelError.js';

const PROGRESS_INTERVAL_MS = 150;

interface ActiveDownload {
  state: DownloadState;
  downloader: ModelDownloader | null;
  cancelled: boolean;
}

export interface ModelDownloadsOptions {
  dirPath: string;
  onProgress(download: DownloadState): void;
  onFinished(download: DownloadState): void;
}

/** hf: URIs, or https:// links: a plain-http model could be swapped on the way without notice. */
export function isSupportedModelUri(uri: string): boolean {
  return /^(hf:|huggingface:|https:\/\/)/i.test(uri.trim());
}

export class ModelDownloads {
  private readonly downloads = new Map<string, ActiveDownload>();

  constructor(private readonly options: ModelDownloadsOptions) {}

  list(): DownloadState[] {
    return [...this.downloads.values()].map((d) => ({ ...d.state }));
  }

  start(uri: string): DownloadState {
    const trimmed = uri.trim();
    if (!isSupportedModelUri(trimmed)) {
      throw new ModelError('INVALID', 'Use a Hugging Face URI such as hf:user/repo/file.gguf, or an https:// link to a .gguf file.');
    }
    const running = [...this.downloads.values()].find((d) => d.state.uri === trimmed && d.state.status === 'downloading');
    if (running) return { ...running.state };
    const active: ActiveDownload = {
      state: { id: randomUUID(), uri: trimmed, status: 'downloading', downloadedBytes: 0, totalBytes: 0, path: null, error: null },
      downloader: null,
      cancelled: false,
    };
    this.downloads.set(active.state.id, active);
    void this.run(active);
    return { ...active.state };
  }

  async cancel(downloadId: string): Promise<DownloadState> {
    const active = this.downloads.get(downloadId);
    if (!active) throw new ModelError('NOT_FOUND', 'No such download.');
    if (active.state.status === 'downloading') {
      active.cancelled = true;
      // keep the partial file: starting again resumes from it
      await active.downloader?.cancel({ deleteTempFile: false });
      this.finish(active, 'cancelled', null);
    }
    return { ...active.state };
  }

  async cancelAll(): Promise<void> {
    await Promise.all([...this.downloads.keys()].map((id) => this.cancel(id).catch(() => undefined)));
  }

  private async run(active: ActiveDownload): Promise<void> {
    let lastReport = 0;
    try {
      const downloader = await createModelDownloader({
        modelUri: active.state.uri,
        dirPath: this.options.dirPath,
        deleteTempFileOnCancel: false,
        skipExisting: true,
        onProgress: ({ totalSize, downloadedSize }) => {
          active.state.totalBytes = totalSize;
          active.state.downloadedBytes = downloadedSize;
          const now = Date.now();
          if (now - lastReport >= PROGRESS_INTERVAL_MS) {
            lastReport = now;
            this.options.onProgress({ ...active.state });
          }
        },
      });
      active.downloader = downloader;
      active.state.path = downloader.entrypointFilePath;
      active.state.totalBytes = downloader.totalSize;
      if (active.cancelled) {
        await downloader.cancel({ deleteTempFile: false });
        return;
      }
      this.options.onProgress({ ...active.state });
      const filePath = await downloader.download();
      if (active.cancelled) return;
      active.state.path = filePath;
      active.state.downloadedBytes = active.state.totalBytes = downloader.totalSize || active.state.totalBytes;
      this.finish(active, 'done', null);
    } catch (error) {
      if (active.cancelled) return;
      this.finish(active, 'failed', error instanceof Error ? error.message : String(error));
    }
  }

  private finish(active: ActiveDownload, status: DownloadState['status'], error: string | null): void {
    if (active.state.status !== 'downloading') return;
    active.state.status = status;
    active.state.error = error;
    this.options.onFinished({ ...active.state });
  }
}
