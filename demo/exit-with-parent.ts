// Preloaded (`node --import`) into every node process of the local stack, which starts them with an
// IPC channel: when the stack's own process goes away, even by kill -9, the channel closes and the
// child stops as on SIGTERM. Without it a killed `npm start` or scenario left its replicas, sessiond
// and proxy running for good (health checks included), and a test run that timed out left dozens.
if (process.channel) {
  process.channel.unref();
  process.once('disconnect', () => {
    process.kill(process.pid, 'SIGTERM');
    // A child whose graceful stop hangs must not outlive us either.
    setTimeout(() => process.exit(1), 10_000).unref();
  });
}
