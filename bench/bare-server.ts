// The baseline: the same Express and JSON body parsing with nothing behind them.
import express from 'express';

const app = express();
app.use(express.json({ limit: '64kb' }));
app.post('/payments', (req, res) => {
  res.json({ transactionId: 'pay_bare', status: 'completed', amount: (req.body as { amount?: string }).amount ?? '0' });
});
const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
