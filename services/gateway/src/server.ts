import { runService } from '@simplebank/chassis';
import gateway from './service.ts';

await runService(gateway);
