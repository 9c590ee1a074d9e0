// Read every object under a prefix back with the official AWS SDK v3 and
// print "<key> <size> <md5hex>" lines, sorted. Proves the objects lib/storage
// wrote are readable by a standard client byte for byte.
//   node s3-readback.mjs ENDPOINT BUCKET PREFIX
import { S3Client, ListObjectsV2Command, GetObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';

const [endpoint, bucket, prefix] = process.argv.slice(2);
const s3 = new S3Client({
  endpoint, region: 'us-east-1', forcePathStyle: true,
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
});
const keys = [];
let token;
do {
  const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
  for (const o of r.Contents || []) keys.push(o.Key);
  token = r.IsTruncated ? r.NextContinuationToken : undefined;
} while (token);
keys.sort();
for (const k of keys) {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: k }));
  const buf = Buffer.from(await r.Body.transformToByteArray());
  console.log(`${k} ${buf.length} ${createHash('md5').update(buf).digest('hex')}`);
}
