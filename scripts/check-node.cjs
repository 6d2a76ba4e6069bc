// Stops `npm start`, `npm test` and `npm ci` on a Node.js older than package.json "engines" with
// one line that names the version needed, instead of a stack trace such as Node 20's
// ERR_UNKNOWN_FILE_EXTENSION ".ts" (stickless runs its TypeScript through Node's type stripping).
// Plain CommonJS in ES5 syntax on purpose: it has to run on the old Node it refuses.
// STICKLESS_CHECK_NODE_VERSION=20.1.0 makes it judge that version instead (its own test uses it).
'use strict';
var path = require('path');

var range = require(path.join(__dirname, '..', 'package.json')).engines.node;
var minimum = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range);
if (!minimum) {
  process.stderr.write('stickless: scripts/check-node.cjs understands only ">=X.Y.Z" in package.json "engines", not "' + range + '"\n');
  process.exit(1);
}
var actual = process.env.STICKLESS_CHECK_NODE_VERSION || process.versions.node;

function parts(version) {
  var numbers = String(version).replace(/^v/, '').split('.');
  return [0, 1, 2].map(function (i) { return parseInt(numbers[i] || '0', 10) || 0; });
}

function atLeast(have, need) {
  for (var i = 0; i < 3; i++) {
    if (have[i] !== need[i]) return have[i] > need[i];
  }
  return true;
}

var needed = [minimum[1], minimum[2] || '0', minimum[3] || '0'].map(Number);
if (!atLeast(parts(actual), needed)) {
  var wanted = minimum[1] + '.' + (minimum[2] || '0');
  process.stderr.write(
    'stickless needs Node.js ' + wanted + ' or newer (package.json "engines": "' + range + '"), but this is Node.js ' +
    String(actual).replace(/^v/, '') + ' (' + process.execPath + '): install a newer one, e.g. `nvm install` (reads .nvmrc) or from https://nodejs.org/en/download\n'
  );
  process.exit(1);
}
