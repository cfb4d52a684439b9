import { defineConfig } from '@playwright/test';

// The server under test: a fresh embedded database per run, on its own port.
const port = Number(process.env.LATCHKEY_E2E_PORT ?? 3100);
const baseURL = `http://127.0.0.1:${port}`;
const bin = process.env.LATCHKEY_BIN ?? 'target/debug/latchkey';
// The test DNS server (end2end/dns-server.mjs) that Latchkey verifies domains against.
const dnsPort = Number(process.env.E2E_DNS_PORT ?? 5354);
const dnsControlPort = Number(process.env.E2E_DNS_CONTROL_PORT ?? 5355);
// The OpenID Provider (end2end/idp.mjs, npm `oidc-provider`) tests sign in against.
const idpPort = Number(process.env.E2E_IDP_PORT ?? 5356);
// The SAML IdP (Debian's SimpleSAMLphp, end2end/saml-idp/run.sh).
const samlIdpPort = Number(process.env.E2E_SAML_IDP_PORT ?? 5357);

export default defineConfig({
  testDir: './tests',
  fullyParallel: true,
  workers: 2,
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  use: {
    baseURL,
    trace: 'retain-on-failure',
    launchOptions: {
      // Debian's Chromium; Playwright never downloads a browser here.
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  webServer: [
    {
      command: 'node dns-server.mjs',
      url: `http://127.0.0.1:${dnsControlPort}/health`,
      reuseExistingServer: false,
      env: { E2E_DNS_PORT: String(dnsPort), E2E_DNS_CONTROL_PORT: String(dnsControlPort) },
    },
    {
      command: 'node idp.mjs',
      url: `http://127.0.0.1:${idpPort}/.well-known/openid-configuration`,
      reuseExistingServer: false,
      stdout: 'ignore',
      env: { E2E_IDP_PORT: String(idpPort) },
    },
    {
      command: `rm -rf .tmp/saml-idp && exec saml-idp/run.sh ${samlIdpPort} .tmp/saml-idp`,
      url: `http://127.0.0.1:${samlIdpPort}/simplesaml/saml2/idp/metadata.php`,
      reuseExistingServer: false,
      stdout: 'ignore',
      // PHP's built-in server logs every request on stderr.
      stderr: 'ignore',
      timeout: 60_000,
    },
    {
    command: `rm -rf end2end/.tmp/data && exec ${bin} serve`,
    cwd: '..',
    url: `${baseURL}/api/v1/health`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
    env: {
      LATCHKEY_BIND: `127.0.0.1:${port}`,
      LATCHKEY_PUBLIC_URL: baseURL,
      LATCHKEY_DATA_DIR: 'end2end/.tmp/data',
      LATCHKEY_SECRET_KEY: 'e2e-secret-key-e2e-secret-key-e2e-secret-key',
      LEPTOS_SITE_ROOT: 'target/site',
      LATCHKEY_DNS_SERVERS: `127.0.0.1:${dnsPort}`,
      LATCHKEY_DNS_TIMEOUT_SECS: '2',
      // The test IdP runs on plain http on 127.0.0.1.
      LATCHKEY_ALLOW_PRIVATE_IDP: 'true',
      RUST_LOG: process.env.E2E_RUST_LOG ?? 'warn',
    },
    },
  ],
});
