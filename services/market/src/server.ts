import { runService } from '@simplebank/chassis';
import market from './service.ts';

await runService(market);
