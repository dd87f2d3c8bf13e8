import { verifyDataDir as verifyDatabase, type VerifyReport } from '../verify.js';
import { isDirectory, partitionDir, partitionName, readPartitionLayout } from './layout.js';

export type { VerifyReport } from '../verify.js';

/**
 * `broker verify`: checks every partition of a data dir without changing it (verify.ts on each partition's
 * database, read from a scratch copy). A dir from before partitions, adopted or not, is its one database at the
 * root; so is a dir with neither a marker nor a database (verify.ts says what it finds there).
 */
export async function verifyDataDir(dataDir: string): Promise<VerifyReport> {
  const layout = await readPartitionLayout(dataDir);
  if (layout === undefined || layout.layout === 'root') return verifyDatabase(dataDir);
  const lines: string[] = [];
  const problems: string[] = [];
  let subjects = 0;
  let records = 0;
  let present = 0;
  for (let p = 0; p < layout.partitions; p++) {
    const dir = partitionDir(layout, p);
    if (!(await isDirectory(dir))) continue;
    present += 1;
    const report = await verifyDatabase(dir);
    // Its own summary line is replaced by the one for the whole dir below.
    lines.push(...report.lines.slice(0, report.subjects).map((line) => `partition ${partitionName(p)}: ${line}`));
    problems.push(...report.problems.map((problem) => `partition ${partitionName(p)}: ${problem}`));
    subjects += report.subjects;
    records += report.records;
  }
  const where = `${layout.partitions} partitions, ${present} with data`;
  lines.push(
    problems.length === 0
      ? `clean: ${subjects} subjects, ${records} records (${where})`
      : `DAMAGE: ${problems.length} problems in ${subjects} subjects (${records} records readable; ${where})`,
  );
  return { lines: [...lines, ...problems.map((p) => `  ${p}`)], problems, subjects, records };
}
