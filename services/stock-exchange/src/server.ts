import { runService } from '@simplebank/chassis';
import stockExchange from './service.ts';

await runService(stockExchange);
