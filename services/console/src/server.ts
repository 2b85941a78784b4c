import { runService } from '@simplebank/chassis';
import console from './service.ts';

await runService(console);
