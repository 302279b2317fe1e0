import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from '@/app/app';
import { installTestHooks } from '@/app/test-hook';
import './index.css';

// The end-to-end hooks exist only in test builds (`npm run test:e2e` sets VITE_TEST_HOOKS=1):
// in production the condition is a constant false, and the bundler drops the hook module.
if (import.meta.env.VITE_TEST_HOOKS === '1') installTestHooks();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
