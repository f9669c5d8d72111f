// Fill Cradle's built XForms with ODK's own form engine (@getodk/xforms-engine, the engine
// behind ODK Web Forms) the way a health worker would, and report what the engine says.
//
//   node tests/engine/harness.mjs job.json     one job from a file, one JSON result on stdout
//   node tests/engine/harness.mjs              JSON lines: one job per stdin line, one result
//                                              per stdout line, in order (one process, many jobs)
//
// A job: {"id": any, "xform": "build/forms/immunization.xml", "media_dir": optional (default
// <form>-media next to the XForm), "device_id": optional, "answers": [{"field": "county",
// "value": "450123"}, {"ref": "/data/visit/doses_given", "value": ["hepb3", "mpsva1"]}, ...]}.
// Answers are applied in order. As on a tablet, a question that is not relevant at that moment,
// a calculated or read-only node, or a choice that is not in the question's current option list
// (e.g. a township outside the chosen county) cannot be answered: the answer is not applied and
// is reported in `refused`.
//
// A result: {id, ok, status, violations: [{ref, field, kind, message_zh, message_en}], refused:
// [{ref, field, value, reason, options?}], answers: [{ref, field, value, stored, violation}],
// relevant: {field: bool}, values: {field: text}, options: {field: [value]}, languages,
// instance_xml}. `ok` is true only when the engine produced a submission (status "ready") and
// every answer was applied; `instance_xml` is then the engine's `xml_submission_file`.
// A job that cannot run at all (unknown field, form that does not load) gives {id, ok: false,
// error}.

import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

// Guangxi tablets run on China Standard Time: preloads (start, end, today) and today() use it.
process.env.TZ ||= 'Asia/Shanghai';

const here = path.dirname(fileURLToPath(import.meta.url));

// The engine expects a browser: jsdom provides the DOM globals, and the loader of its XPath
// parser (tree-sitter, emscripten) looks for CommonJS `__dirname` / `require`.
const { JSDOM } = await import('jsdom');
const { window } = new JSDOM('');
for (const name of [
  'DOMParser',
  'XMLSerializer',
  'Node',
  'NodeFilter',
  'Element',
  'Document',
  'XMLDocument',
  'Attr',
  'Text',
  'XPathResult',
  'document',
]) {
  if (globalThis[name] === undefined) globalThis[name] = window[name];
}
globalThis.__dirname ??= here;
globalThis.require ??= createRequire(import.meta.url);

const engine = await import('@getodk/xforms-engine');

const LANGUAGE_KEYS = { zh: /\(zh\)$/, en: /\(en\)$/ };

class JobError extends Error {}

/** Loaded forms by path, reloaded when the file changes: loading parses the XForm and media. */
const loadedForms = new Map();

async function loadForm(xformPath, mediaDir) {
  const info = await stat(xformPath);
  const key = `${xformPath}\0${mediaDir}`;
  const stamp = `${info.mtimeMs}:${info.size}`;
  const cached = loadedForms.get(key);
  if (cached && cached.stamp === stamp) return cached.form;
  const xml = await readFile(xformPath, 'utf8');
  const form = await engine.loadForm(xml, {
    fetchFormAttachment: (url) => fetchMedia(mediaDir, url),
  });
  if (form.status === 'failure') {
    throw new JobError(`the engine cannot load ${xformPath}: ${form.error?.message ?? form.error}`);
  }
  loadedForms.set(key, { stamp, form });
  return form;
}

/** A form attachment (`jr://file-csv/townships.csv`) from the media folder, as Collect does. */
async function fetchMedia(mediaDir, url) {
  const name = decodeURIComponent(String(url).split('/').pop());
  try {
    const body = await readFile(path.join(mediaDir, name));
    return new Response(body, { status: 200 });
  } catch {
    return new Response(`no media file ${name} in ${mediaDir}`, { status: 404 });
  }
}

function* walk(node) {
  yield node;
  for (const child of node.currentState.children ?? []) yield* walk(child);
}

function nameOf(node) {
  return node.currentState.reference.split('/').pop();
}

function indexNodes(root) {
  const byRef = new Map();
  const byName = new Map();
  for (const node of walk(root)) {
    if (node === root) continue;
    byRef.set(node.currentState.reference, node);
    byName.set(nameOf(node), node);
  }
  return { byRef, byName };
}

function findNode(index, answer) {
  const node = answer.ref ? index.byRef.get(answer.ref) : index.byName.get(answer.field);
  if (!node) throw new JobError(`no node ${answer.ref ?? answer.field} in the form`);
  return node;
}

function isQuestion(node) {
  return node.nodeType === 'input' || node.nodeType === 'select';
}

function asList(value) {
  if (value === null || value === undefined || value === '') return [];
  return Array.isArray(value) ? value.map(String) : String(value).split(/\s+/).filter(Boolean);
}

/** Apply one answer as a health worker would; returns the refusal reason, if any. */
function answer(node, value) {
  if (!isQuestion(node)) return { reason: 'not_a_question' };
  const state = node.currentState;
  if (!state.relevant) return { reason: 'not_relevant' };
  if (state.readonly) return { reason: 'readonly' };
  if (node.nodeType === 'select') {
    const wanted = asList(value);
    const offered = state.valueOptions.map((option) => option.value);
    const missing = wanted.filter((v) => !offered.includes(v));
    if (missing.length) return { reason: 'not_an_option', options: offered };
    if (node.selectType === 'select1') {
      if (wanted.length > 1) return { reason: 'not_an_option', options: offered };
      node.selectValue(wanted[0] ?? null);
    } else {
      node.selectValues(wanted);
    }
    return null;
  }
  const text = value === null || value === undefined ? '' : String(value);
  node.setValue(text === '' ? null : text);
  if (text !== '' && node.currentState.instanceValue === '') return { reason: 'not_accepted' };
  return null;
}

/** The active violation message of a node in every form language. */
function messages(root, node) {
  const out = {};
  const initial = root.currentState.activeLanguage;
  for (const language of root.languages) {
    root.setLanguage(language);
    out[language.language] = node.validationState.violation?.message?.asString ?? null;
  }
  if (!initial.isSyntheticDefault) root.setLanguage(initial);
  return out;
}

function bilingual(byLanguage) {
  const pick = (key) => {
    const name = Object.keys(byLanguage).find((language) => LANGUAGE_KEYS[key].test(language));
    return name === undefined ? null : byLanguage[name];
  };
  return { message_zh: pick('zh'), message_en: pick('en') };
}

async function runJob(job) {
  if (!job || typeof job.xform !== 'string') throw new JobError('a job needs "xform"');
  const xformPath = path.resolve(job.xform);
  const mediaDir = path.resolve(job.media_dir ?? xformPath.replace(/\.xml$/, '-media'));
  const form = await loadForm(xformPath, mediaDir);
  const instance = form.createInstance({
    preloadProperties: { deviceID: job.device_id ?? 'collect:engine-harness' },
  });
  const root = instance.root;
  const index = indexNodes(root);

  const refused = [];
  const answers = [];
  for (const given of job.answers ?? []) {
    const node = findNode(index, given);
    const ref = node.currentState.reference;
    const field = nameOf(node);
    const refusal = answer(node, given.value);
    if (refusal) refused.push({ ref, field, value: given.value, ...refusal });
    answers.push({
      ref,
      field,
      value: given.value,
      stored: node.currentState.instanceValue ?? null,
      applied: refusal === null,
      // What Collect shows when the health worker leaves this question.
      violation: isQuestion(node) ? (node.validationState.violation?.condition ?? null) : null,
    });
  }

  const payload = await root.prepareInstancePayload();
  const violations = (payload.violations ?? []).map((v) => {
    const node = index.byRef.get(v.reference);
    return {
      ref: v.reference,
      field: node ? nameOf(node) : v.reference.split('/').pop(),
      kind: v.violation.condition,
      ...bilingual(node ? messages(root, node) : {}),
    };
  });

  const relevant = {};
  const values = {};
  const options = {};
  for (const node of walk(root)) {
    if (node === root) continue;
    const field = nameOf(node);
    relevant[field] = node.currentState.relevant;
    if (node.currentState.children === null) values[field] = node.currentState.instanceValue;
    if (node.nodeType === 'select') {
      options[field] = node.currentState.valueOptions.map((option) => option.value);
    }
  }

  const ready = payload.status === 'ready';
  const instanceXml = ready
    ? await payload.data[0].get(engine.constants.INSTANCE_FILE_NAME).text()
    : root.instanceState.instanceXML;
  return {
    id: job.id ?? null,
    ok: ready && refused.length === 0,
    status: payload.status,
    violations,
    refused,
    answers,
    relevant,
    values,
    options,
    languages: root.languages.map((language) => language.language),
    instance_xml: instanceXml,
  };
}

async function runSafely(job) {
  try {
    return await runJob(job);
  } catch (error) {
    return { id: job?.id ?? null, ok: false, error: error?.message ?? String(error) };
  }
}

async function main() {
  const file = process.argv[2];
  if (file) {
    const job = JSON.parse(await readFile(file, 'utf8'));
    process.stdout.write(`${JSON.stringify(await runSafely(job))}\n`);
    return;
  }
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let job;
    try {
      job = JSON.parse(line);
    } catch (error) {
      process.stdout.write(`${JSON.stringify({ id: null, ok: false, error: `bad job: ${error.message}` })}\n`);
      continue;
    }
    process.stdout.write(`${JSON.stringify(await runSafely(job))}\n`);
  }
}

await main();
