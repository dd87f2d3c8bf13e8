#!/usr/bin/env node
// The broker's command line (the package's `broker` bin); the commands are in cli/.
import { buildProgram } from './cli/program.js';
import { reportFailure } from './cli/report-failure.js';

buildProgram()
  .parseAsync()
  .catch((err: unknown) => {
    const { lines, exitCode } = reportFailure(err);
    for (const line of lines) console.error(line);
    process.exit(exitCode);
  });
