// Runs an ONNX model in onnxruntime (CPU) on .npy inputs and writes every output as .npy.
// Usage: node run_onnxruntime.js MODEL.onnx OUT_DIR NAME=FILE.npy ...   (float32, int32, int64)
// onnxruntime-node is found through NODE_PATH (scripts/setup.sh installs it under /opt/lstm-npm).
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function readNpy(file) {
  const bytes = fs.readFileSync(file);
  if (bytes.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(file + ': not a .npy file');
  const major = bytes[6];
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLength;
  const header = bytes.toString('latin1', major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(file + ': Fortran order');
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').filter((s) => s.trim()).map(Number);
  const data = bytes.subarray(start);
  const copy = new Uint8Array(data).buffer;  // aligned copy
  if (descr === '<f4') return new ort.Tensor('float32', new Float32Array(copy), shape);
  if (descr === '<i4') return new ort.Tensor('int32', new Int32Array(copy), shape);
  if (descr === '<i8') return new ort.Tensor('int64', new BigInt64Array(copy), shape);
  throw new Error(file + ': dtype ' + descr + ' is not float32, int32 or int64');
}

function writeNpy(file, tensor) {
  const shape = tensor.dims.length === 1 ? `(${tensor.dims[0]},)` : `(${tensor.dims.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  const data = Buffer.from(Float32Array.from(tensor.data).buffer);
  fs.writeFileSync(file, Buffer.concat([prefix, Buffer.from(header, 'latin1'), data]));
}

async function main() {
  const [model, outDir, ...specs] = process.argv.slice(2);
  const feeds = {};
  for (const spec of specs) {
    const at = spec.indexOf('=');
    feeds[spec.slice(0, at)] = readNpy(spec.slice(at + 1));
  }
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'] });
  const results = await session.run(feeds);
  for (const name of session.outputNames) writeNpy(path.join(outDir, name + '.npy'), results[name]);
  console.log('onnxruntime ' + (ort.env.versions ? JSON.stringify(ort.env.versions) : '') + ': ' +
              session.outputNames.join(', '));
}

main().catch((error) => {
  console.error('run_onnxruntime: ' + error.message);
  process.exit(1);
});
