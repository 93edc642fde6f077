// Reference JavaScript client for the execute request signature (tests/signature_forms.rs).
//
// Reads JSON lines {"body": "<request body JSON text>", "secret": "<secret>"} on stdin. For
// each line it acts as a JS client holding JSON.parse(body): it prints one JSON line
//
//   {"body": JSON.stringify(request),
//    "forms": {"js_insertion": {"text": ..., "hmac": ...},
//              "js_sorted":    {"text": ..., "hmac": ...}}}
//
// where the signed object is {actionType, actionParams, requestedBy} built in the request's
// key order, "text" is JSON.stringify(obj) or a recursive sorted-keys stringify (keys in
// Object.keys(o).sort() order, as json-stable-stringify does), and "hmac" is the hex
// HMAC-SHA256 of the text's UTF-8 bytes.
'use strict';

const crypto = require('crypto');
const fs = require('fs');

const SIGNED = ['actionType', 'actionParams', 'requestedBy'];

// Builds the text by hand: an object rebuilt with sorted keys would put array-index keys
// first again, so sorting must happen while printing.
function sortedStringify(value) {
  if (Array.isArray(value)) {
    return '[' + value.map((item) => sortedStringify(item)).join(',') + ']';
  }
  if (value !== null && typeof value === 'object') {
    const members = Object.keys(value)
      .sort()
      .map((key) => JSON.stringify(key) + ':' + sortedStringify(value[key]));
    return '{' + members.join(',') + '}';
  }
  return JSON.stringify(value);
}

// The other common way to sort: JSON.stringify with the sorted list of every key as the
// replacer. Both must agree, or this script's idea of the sorted form is wrong.
function replacerSortedStringify(value) {
  const keys = new Set();
  (function collect(v) {
    if (Array.isArray(v)) {
      v.forEach(collect);
    } else if (v !== null && typeof v === 'object') {
      for (const key of Object.keys(v)) {
        keys.add(key);
        collect(v[key]);
      }
    }
  })(value);
  return JSON.stringify(value, [...keys].sort());
}

function hmacHex(secret, text) {
  return crypto.createHmac('sha256', Buffer.from(secret, 'utf8')).update(text, 'utf8').digest('hex');
}

for (const line of fs.readFileSync(0, 'utf8').split('\n')) {
  if (line.trim() === '') {
    continue;
  }
  const input = JSON.parse(line);
  const request = JSON.parse(input.body);
  const signed = {};
  for (const key of Object.keys(request)) {
    if (SIGNED.includes(key)) {
      signed[key] = request[key];
    }
  }
  const sorted = sortedStringify(signed);
  const viaReplacer = replacerSortedStringify(signed);
  if (sorted !== viaReplacer) {
    throw new Error(`sorted stringify disagrees with the replacer form:\n${sorted}\n${viaReplacer}`);
  }
  const forms = {};
  for (const [name, text] of [['js_insertion', JSON.stringify(signed)], ['js_sorted', sorted]]) {
    forms[name] = { text, hmac: hmacHex(input.secret, text) };
  }
  process.stdout.write(JSON.stringify({ body: JSON.stringify(request), forms }) + '\n');
}
