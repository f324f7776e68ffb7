// Healthcheck of the mongo service (mongosh --nodb --quiet rs-init.js): initiates replica set
// rs0 the first time (idempotent: an initiated set is left alone) and is healthy only when this
// member is a writable primary. The root password is read from the secret file here, so it is
// never on a command line.
const fs = require('fs');
const user = process.env.MONGO_INITDB_ROOT_USERNAME;
const password = fs.readFileSync('/run/secrets/mongo_root_password', 'utf8').trim();
const admin = connect(
  `mongodb://${encodeURIComponent(user)}:${encodeURIComponent(password)}` +
    '@127.0.0.1:27017/admin?directConnection=true&authSource=admin'
);
let status;
try {
  status = admin.adminCommand({ replSetGetStatus: 1 });
} catch (e) {
  status = { ok: 0, code: e.code };
}
if (status.ok !== 1) {
  if (status.code !== 94) {  // NotYetInitialized; anything else is a real failure
    throw new Error(`replSetGetStatus failed with code ${status.code}`);
  }
  admin.adminCommand({ replSetInitiate: { _id: 'rs0', members: [{ _id: 0, host: 'mongo:27017' }] } });
}
if (!admin.adminCommand({ hello: 1 }).isWritablePrimary) {
  quit(1);
}
