/**
 * Who may import whom: docs/architecture.md explains each rule. `npm run lint` runs this; a wrong-way
 * import fails CI (test/unit/import-boundaries.test.ts proves that it would).
 */
const HUB_FOLDERS = 'server/(http|auth|payments|rails|notify|x402|store|ledger|core)';
module.exports = {
  forbidden: [
    {
      name: 'shared-imports-nothing',
      comment: 'shared/ is the protocol: every part depends on it, so it depends on none of them.',
      severity: 'error',
      from: { path: '^shared/' },
      to: { path: '^(server|merchant|extension|lightning|devnet|contracts|scripts|bench|test)/' },
    },
    {
      name: 'lightning-only-shared',
      comment: 'Node adapters are used by the hub and by merchants; they may know only the protocol.',
      severity: 'error',
      from: { path: '^lightning/' },
      to: { path: '^(server|merchant|extension|devnet|contracts|scripts)/' },
    },
    {
      name: 'merchant-only-shared-and-lightning',
      comment: 'Merchants install the kit without the hub: it may import shared/ and lightning/ only.',
      severity: 'error',
      from: { path: '^merchant/', pathNot: '^merchant/demo/' },
      to: { path: '^(server|extension|devnet|contracts|scripts)/' },
    },
    {
      name: 'merchant-imports-packages-by-name',
      comment: 'The kit is published as @tollway/merchant: a relative path out of its folder would not exist once installed.',
      severity: 'error',
      from: { path: '^merchant/' },
      to: { path: '^(shared|lightning)/', dependencyTypesNot: ['aliased'] },
    },
    {
      name: 'extension-only-shared',
      comment: 'The extension is browser code: the hub, the merchant kit and Node code are out of reach.',
      severity: 'error',
      from: { path: '^extension/' },
      to: { path: '^(server|merchant|lightning|devnet|contracts|scripts)/' },
    },
    {
      name: 'devnet-never-server',
      comment: 'Stand-ins speak the real wire format; borrowing the hub would let both drift together.',
      severity: 'error',
      from: { path: '^devnet/' },
      to: { path: '^server/' },
    },
    {
      name: 'ledger-knows-no-hub',
      comment: 'The ledger is money only: no HTTP, rails, sockets, payments or auth.',
      severity: 'error',
      from: { path: '^server/ledger/' },
      to: { path: '^server/(http|rails|notify|payments|auth|x402)/' },
    },
    {
      name: 'rails-know-no-http',
      comment: 'A rail moves money; how it was asked for is the routes\' business.',
      severity: 'error',
      from: { path: '^server/rails/' },
      to: { path: '^server/http/' },
    },
    {
      name: 'only-http-knows-express',
      comment: 'Services take plain values; Express stays in http/ (and the wiring in app.ts).',
      severity: 'error',
      from: { path: `^${HUB_FOLDERS}/`, pathNot: '^server/http/' },
      to: { path: '^node_modules/(express|cors|helmet)/' },
    },
    {
      name: 'no-folder-cycles',
      comment: 'Two folders that import each other are one folder in disguise (e.g. payments ⇄ rails).',
      severity: 'error',
      scope: 'folder',
      from: { path: '^server/' },
      to: { circular: true },
    },
    {
      name: 'no-module-cycles',
      severity: 'error',
      from: { path: '^(server|shared|merchant|extension|lightning|devnet)/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^((shared|lightning|merchant)/)?dist/|^(node_modules|data|contracts/build|test-results|\\.tmp)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['tollway-source', 'import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.json'],
      mainFields: ['module', 'main', 'types'],
    },
  },
};
