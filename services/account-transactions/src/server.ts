import { runService } from '@simplebank/chassis';
import accountTransactions from './service.ts';

await runService(accountTransactions);
