import { runService } from '@simplebank/chassis';
import fees from './service.ts';

await runService(fees);
