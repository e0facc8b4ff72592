import type { Job } from '../../scheduler.js';

/** Z7.2: the reminder that the two-yearly evaluation is due. */
export const complianceJobs: Job[] = [];
