// A tiny authoritative DNS server for the end-to-end tests: answers TXT
// queries on 127.0.0.1 (UDP) from records published over a small HTTP
// control API (POST /records {"name","value"}); NXDOMAIN otherwise.
import dgram from 'node:dgram';
import http from 'node:http';

const dnsPort = Number(process.env.E2E_DNS_PORT ?? 5354);
const controlPort = Number(process.env.E2E_DNS_CONTROL_PORT ?? 5355);
const records = new Map(); // lower-case name -> [value, ...]

function parseQuestion(msg) {
  let offset = 12;
  const labels = [];
  while (offset < msg.length && msg[offset] !== 0) {
    const len = msg[offset];
    labels.push(msg.subarray(offset + 1, offset + 1 + len).toString('ascii'));
    offset += len + 1;
  }
  offset += 1; // the root label
  const qtype = msg.readUInt16BE(offset);
  return { name: labels.join('.').toLowerCase(), qtype, end: offset + 4 };
}

function txtRdata(value) {
  const parts = [];
  const bytes = Buffer.from(value, 'utf8');
  for (let i = 0; i < bytes.length; i += 255) {
    const chunk = bytes.subarray(i, i + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
  }
  return Buffer.concat(parts);
}

const udp = dgram.createSocket('udp4');
udp.on('message', (msg, peer) => {
  if (msg.length < 12) return;
  const { name, qtype, end } = parseQuestion(msg);
  const values = records.get(name);
  const answers = values && qtype === 16 ? values : [];
  const header = Buffer.alloc(12);
  msg.copy(header, 0, 0, 2); // id
  const opcode = (msg[2] >> 3) & 0x0f;
  const rd = msg[2] & 0x01;
  header[2] = 0x80 | (opcode << 3) | 0x04 | rd; // QR, opcode, AA, RD
  header[3] = 0x80 | (values ? 0 : 3); // RA, NOERROR or NXDOMAIN
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const question = msg.subarray(12, end);
  const records_ = answers.map((value) => {
    const rdata = txtRdata(value);
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question name
    rr.writeUInt16BE(16, 2); // TXT
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(30, 6); // TTL
    rr.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([rr, rdata]);
  });
  udp.send(Buffer.concat([header, question, ...records_]), peer.port, peer.address);
});
udp.bind(dnsPort, '127.0.0.1');

http
  .createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health') {
      res.end('ok');
      return;
    }
    if (req.method === 'POST' && req.url === '/records') {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const { name, value } = JSON.parse(body);
        const key = String(name).toLowerCase().replace(/\.$/, '');
        records.set(key, [...(records.get(key) ?? []), String(value)]);
        res.end('published');
      });
      return;
    }
    res.statusCode = 404;
    res.end();
  })
  .listen(controlPort, '127.0.0.1');
