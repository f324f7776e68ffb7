// Runs once, when the data volume is empty (/docker-entrypoint-initdb.d): the application user
// vidsight with readWrite on the vidsight database only; the root user is kept for operators.
const fs = require('fs');
const password = fs.readFileSync('/run/secrets/mongo_vidsight_password', 'utf8').trim();
db.getSiblingDB('vidsight').createUser({
  user: 'vidsight',
  pwd: password,
  roles: [{ role: 'readWrite', db: 'vidsight' }],
  mechanisms: ['SCRAM-SHA-256'],
});
