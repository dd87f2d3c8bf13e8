// The layering of the top-level folders (README, "Architecture"): dependencies point inward, api -> log, retention,
// tiering, jobs -> core. `npm run check:deps` fails on any import that breaks a rule below. Tests and test support
// may reach across (a conformance suite runs real implementations side by side); product code may not.
const TEST = '(\\.test\\.ts$|/test-support/)';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-is-the-centre',
      comment: 'core/ holds domain types and contracts: it imports none of our other folders.',
      severity: 'error',
      from: { path: '^core/', pathNot: TEST },
      to: { path: '^(proto|log|retention|tiering|jobs|cluster|api|bench|test-support|scripts)/' },
    },
    {
      name: 'log-on-core-only',
      comment: 'log/ implements the core contracts on LevelDB and depends on core only.',
      severity: 'error',
      from: { path: '^log/', pathNot: TEST },
      to: { path: '^(proto|retention|tiering|jobs|cluster|api|bench|scripts)/' },
    },
    {
      name: 'policies-on-core-only',
      comment:
        'retention/, tiering/, jobs/ and cluster/ depend on core only: the composition root in api/ wires them together.',
      severity: 'error',
      from: { path: '^(retention|tiering|jobs|cluster)/', pathNot: TEST },
      to: { path: '^(proto|log|retention|tiering|jobs|cluster|api|bench|scripts)/', pathNot: '^$1/' },
    },
    {
      name: 'nothing-imports-api',
      comment: 'api/ is the outermost layer (gRPC, CLI, composition root): no other product folder imports it.',
      severity: 'error',
      from: { path: '^(core|log|retention|tiering|jobs|cluster)/', pathNot: TEST },
      to: { path: '^api/' },
    },
    {
      name: 'product-never-imports-bench-or-test-support',
      comment: 'bench/ and test support are outside the product build and the image.',
      severity: 'error',
      from: { path: '^(core|log|retention|tiering|jobs|cluster|api|proto)/', pathNot: TEST },
      to: { path: '(^bench/|/test-support/|^test-support/|\\.test\\.ts$)' },
    },
    {
      name: 'through-the-entry-point',
      comment:
        'A module is imported through its entry point (index.ts; the lazily loaded Cassandra and BullMQ entries too), never by deep paths.',
      severity: 'error',
      from: { path: '^(core|log|retention|tiering|jobs|cluster|api)/', pathNot: TEST },
      to: {
        path: '^(core|log|retention|tiering|jobs|cluster)/',
        pathNot: [
          '^$1/',
          '^(core|log|retention|tiering|jobs|cluster)/index\\.ts$',
          '^tiering/cassandra/index\\.ts$',
          '^cluster/cassandra/index\\.ts$',
          '^jobs/bullmq/index\\.ts$',
        ],
      },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^node_modules|^dist/)' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
