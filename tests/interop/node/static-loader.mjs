// Offline JSON-LD document loader for the interop scripts. It serves the SAME context
// files the Python library ships (services/badge_issuer/proofs/contexts/), read through
// the URL table in document_loader.py, and resolves did:key through Digital Bazaar's
// own did:key driver, so nothing here is CredStack's signing code.
import {readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import * as didKey from '@digitalbazaar/did-method-key';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';

const here = dirname(fileURLToPath(import.meta.url));
const proofsDir = join(here, '..', '..', '..', 'services', 'badge_issuer', 'proofs');
const contextsDir = join(proofsDir, 'contexts');

function readContextTable() {
  // Parse the CONTEXT_FILES mapping out of document_loader.py so the URL -> file
  // table has a single source of truth.
  const source = readFileSync(join(proofsDir, 'document_loader.py'), 'utf8');
  const table = {};
  for(const match of source.matchAll(/"(https?:\/\/[^"]+)":\s*"([^"]+)"/g)) {
    table[match[1]] = match[2];
  }
  return table;
}

const contextFiles = readContextTable();
const didKeyDriver = didKey.driver();
didKeyDriver.use({
  multibaseMultikeyHeader: 'z6Mk',
  fromMultibase: Ed25519Multikey.from
});

export async function documentLoader(url) {
  const file = contextFiles[url];
  if(file) {
    const document = JSON.parse(readFileSync(join(contextsDir, file), 'utf8'));
    return {contextUrl: null, documentUrl: url, document, tag: 'static'};
  }
  if(url.startsWith('did:key:')) {
    const document = await didKeyDriver.get({url});
    return {contextUrl: null, documentUrl: url, document};
  }
  throw new Error(`static document loader: unknown URL ${url} (never fetched)`);
}

export async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
