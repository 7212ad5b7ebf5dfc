// Independent checks of Argus evidence provenance, run by the api-service's
// tests through scripts/provenance-check.sh:
//   verify-ml-dsa TRANSCRIPT KEYS  every ML-DSA-65 tree head of a saved
//       transcript (GET .../provenance's answer) verified with
//       @noble/post-quantum against the published key set
//       (/.well-known/provenance-keys/ml-dsa-65); prints {"verified": n}
//       and fails if any head does not verify.
//   expand-jsonld FILE  the PROV-O JSON-LD expanded by jsonld.js into
//       N-Quads, with no document loader (a context that needs the network
//       fails) and in safe mode (a term that maps to no IRI fails).
'use strict';
const fs = require('fs');
const { ml_dsa65 } = require('@noble/post-quantum/ml-dsa.js');
const jsonld = require('jsonld');

const read = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));

function fromHex(hex) {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

function verifyMlDsa(transcriptFile, keysFile) {
  const doc = read(transcriptFile);
  const transcript = doc.transcript || doc;
  const keys = read(keysFile).keys;
  const heads = transcript.entries.map((e) => e.tree_head).concat([transcript.tree_head]);
  const failed = [];
  for (const head of heads) {
    // The bytes Argus signs, rebuilt here: JSON of these fields, in order.
    const message = Buffer.from(JSON.stringify({
      evidence_id: transcript.evidence_id,
      tree_size: head.tree_size,
      root_hash: head.root_hash,
      timestamp: head.timestamp,
      algorithm: head.algorithm,
      key_id: head.key_id,
    }));
    const key = keys.find((k) => k.kid === head.key_id && k.kty === 'AKP' && k.alg === 'ML-DSA-65');
    const ok = head.algorithm === 'ml-dsa-65' && key !== undefined &&
      ml_dsa65.verify(fromHex(head.signature), message, Uint8Array.from(Buffer.from(key.pub, 'base64url')));
    if (!ok) failed.push(head.tree_size);
  }
  console.log(JSON.stringify({ verified: heads.length - failed.length, failed }));
  if (failed.length > 0 || heads.length === 0) process.exit(1);
}

async function expand(file) {
  const documentLoader = async (url) => {
    throw new Error(`the context must need no network, yet ${url} was asked for`);
  };
  const nquads = await jsonld.toRDF(read(file), { format: 'application/n-quads', documentLoader, safe: true });
  process.stdout.write(nquads);
}

const [command, ...args] = process.argv.slice(2);
if (command === 'verify-ml-dsa' && args.length === 2) {
  verifyMlDsa(...args);
} else if (command === 'expand-jsonld' && args.length === 1) {
  expand(args[0]).catch((e) => { console.error(e.message || e); process.exit(1); });
} else {
  console.error('usage: check.js verify-ml-dsa TRANSCRIPT KEYS | expand-jsonld FILE');
  process.exit(2);
}
