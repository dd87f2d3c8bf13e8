// Byte-level damage to one file, at a fraction of its length, as a failing disk or a torn write would leave it.
import { open, truncate, stat } from 'node:fs/promises';
import { basename } from 'node:path';

async function at(path: string, fraction: number): Promise<number> {
  return Math.floor((await stat(path)).size * fraction);
}

/** Overwrites `length` bytes at `fraction` of the file with 0xA5; resolves with the file's name. */
export async function overwrite(path: string, fraction: number, length: number): Promise<string> {
  const file = await open(path, 'r+');
  try {
    await file.write(Buffer.alloc(length, 0xa5), 0, length, await at(path, fraction));
  } finally {
    await file.close();
  }
  return basename(path);
}

/** Inverts every bit of the one byte at `fraction` of the file. */
export async function flipByte(path: string, fraction: number): Promise<string> {
  const file = await open(path, 'r+');
  try {
    const position = await at(path, fraction);
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, position);
    byte[0] = (byte[0] ?? 0) ^ 0xff;
    await file.write(byte, 0, 1, position);
  } finally {
    await file.close();
  }
  return basename(path);
}

/** Cuts the file to `fraction` of its length (a torn tail). */
export async function truncateTo(path: string, fraction: number): Promise<string> {
  await truncate(path, await at(path, fraction));
  return basename(path);
}
