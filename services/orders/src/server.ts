import { runService } from '@simplebank/chassis';
import orders from './service.ts';

await runService(orders);
