// Opens the SQLite file with the connection settings every Sift process must share, then brings
// the schema up to date.
import Database from 'better-sqlite3';
import { migrate, type MigrationResult } from './migrations.js';

/** How long a writer waits for another process (e.g. the CLI) to release the lock. */
const BUSY_TIMEOUT_MS = 5000;

export interface OpenedDatabase {
  db: Database.Database;
  migration: MigrationResult;
}

/**
 * Inside Electron (npm start from a source checkout), better-sqlite3's own binary is built for
 * Node's ABI, which the tests need; scripts/electron-deps.ts puts an Electron build beside it and
 * the app names it in SIFT_SQLITE_BINDING. A packaged app rebuilds the module itself.
 */
function databaseOptions(): Database.Options {
  const nativeBinding = process.env['SIFT_SQLITE_BINDING'];
  return nativeBinding ? { nativeBinding } : {};
}

export function openDatabase(filePath: string): OpenedDatabase {
  const db = new Database(filePath, databaseOptions());
  try {
    applyConnectionPragmas(db);
    const migration = migrate(db);
    return { db, migration };
  } catch (error) {
    db.close();
    throw error;
  }
}

function applyConnectionPragmas(db: Database.Database): void {
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  // WAL: readers never block the writer, and a killed process leaves a log SQLite replays on open.
  db.pragma('journal_mode = WAL');
  // In WAL mode NORMAL survives a process crash; only an OS crash or power cut can lose the last
  // commits, and the file stays consistent either way.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
}
