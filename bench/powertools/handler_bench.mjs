// One Powertools for TypeScript process: N warm invocations of a handler, timed one by one.
//
// Run by bench/powertools/peer.py in a Lambda-like environment (LAMBDA_TASK_ROOT set, a sampled
// _X_AMZN_TRACE_ID rotated before every invocation, AWS_XRAY_DAEMON_ADDRESS pointing at a real
// UDP receiver, stdout a pipe that is read). Each sample is one invocation plus one setImmediate turn,
// so that libuv runs the UDP send as it would between real invocations. Prints one JSON
// object on stderr.
//
//     node handler_bench.mjs MODE INVOCATIONS WARMUP     (MODE: bare | instrumented)

import { randomBytes } from 'node:crypto';

const [mode, invocations, warmup] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const context = {
  functionName: 'bench-fn',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:bench-fn',
  memoryLimitInMB: '1769',
  awsRequestId: 'req',
  getRemainingTimeInMillis: () => 30000,
};

let handler = async () => ({ ok: true });
if (mode === 'instrumented') {
  const { Tracer } = await import('@aws-lambda-powertools/tracer');
  const { Metrics, MetricUnit } = await import('@aws-lambda-powertools/metrics');
  const tracer = new Tracer({ serviceName: 'bench' });
  const metrics = new Metrics({ namespace: 'Bench', serviceName: 'bench' });
  // What Tracer's captureLambdaHandler and Metrics' logMetrics do around a handler, written
  // out (the documented manual instrumentation).
  handler = async () => {
    const segment = tracer.getSegment();
    const subsegment = segment.addNewSubsegment('## handler');
    tracer.setSegment(subsegment);
    tracer.annotateColdStart();
    tracer.addServiceNameAnnotation();
    try {
      metrics.addMetric('Orders', MetricUnit.Count, 1);
      tracer.putAnnotation('tier', 'gold');
      const response = { ok: true };
      tracer.addResponseAsMetadata(response, 'handler');
      return response;
    } finally {
      subsegment.close();
      tracer.setSegment(segment);
      metrics.publishStoredMetrics();
    }
  };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
const samples = [];
for (let index = 0; index < warmup + invocations; index++) {
  const root = `1-${Math.floor(Date.now() / 1000).toString(16).padStart(8, '0')}-${randomBytes(12).toString('hex')}`;
  process.env._X_AMZN_TRACE_ID = `Root=${root};Parent=${randomBytes(8).toString('hex')};Sampled=1`;
  const start = process.hrtime.bigint();
  await handler({ index }, context);
  await turn();
  const elapsed = Number(process.hrtime.bigint() - start);
  if (index >= warmup) samples.push(elapsed);
}
samples.sort((a, b) => a - b);
const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
process.stderr.write(JSON.stringify({
  mode,
  invocations: samples.length,
  mean_us: mean / 1000,
  median_us: samples[Math.floor(samples.length / 2)] / 1000,
}));
