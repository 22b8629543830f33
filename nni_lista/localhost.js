// Preloaded into NNI's manager (NODE_OPTIONS=--require=<this file>): every server it starts
// listens on one address, $NNI_LISTA_HOST or 127.0.0.1. NNI 3.0 has no option for this and
// listens on all interfaces (docs/nni-notes.md).
const net = require('net');
const host = process.env.NNI_LISTA_HOST || '127.0.0.1';
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number') {
    // listen(port[, host][, backlog][, callback]): put the host right after the port
    if (typeof args[1] === 'string') { args[1] = host; } else { args.splice(1, 0, host); }
  } else if (args[0] && typeof args[0] === 'object' && !Array.isArray(args[0]) && args[0].path === undefined) {
    args[0] = Object.assign({}, args[0], { host: host });
  }
  return listen.apply(this, args);
};
