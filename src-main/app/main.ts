// Electron entry (electron-vite builds it to out/main/index.js).
import { runElectronApp } from './electronApp.js';

void runElectronApp({ mainDir: import.meta.dirname });
