import { firstRead } from './first-read.js';
import { render } from 'preact';
import '../common/page.css';
import { ApprovalQueue } from './ApprovalQueue.js';

const app = document.getElementById('app')!;
firstRead.then(
  (first) => render(<ApprovalQueue first={first} />, app),
  () => render(<ApprovalQueue />, app),
);
